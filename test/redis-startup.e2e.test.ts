// Redis settings that cannot work stop an app at start-up with one fatal line naming the key, for
// every mode: a refused password (WRONGPASS) of the data nodes and of the sentinels, a wrong master
// name, no sentinel or cluster seed node answering, and a cluster-mode config pointing at a server
// without cluster support. Servers of this file's own (password-protected), on loopback; the apps
// are real processes stopped by their start-up check before they talk to the API server.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, removeDir } from '@reaper-flow/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness/index';
import { describeOutput, logLines, spawnApp } from './support/app-processes';

const DATA_PASSWORD = 'data-secret';
const SENTINEL_PASSWORD = 'sentinel-secret';
const MASTER = 'startup-check';

describe('Redis start-up check: a setting that cannot work stops the app naming the key', () => {
  let dir: string;
  let ports: { redis: number; clusterNode: number; sentinel: number };
  const servers: ChildProcess[] = [];

  const serve = (command: string, args: string[]): void => {
    const child = spawn(command, args, { stdio: 'ignore' });
    servers.push(child);
  };
  const answers = async (port: number, password: string): Promise<boolean> => {
    const { Redis } = await import('ioredis');
    const redis = new Redis({ port, password, lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return (await redis.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      redis.disconnect();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reaper-flow-redis-startup-'));
    const [redis, clusterNode, sentinel, clusterBus] = (await freePorts(4)) as [
      number,
      number,
      number,
      number,
    ];
    ports = { redis, clusterNode, sentinel };
    const common = [
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      DATA_PASSWORD,
    ];
    serve('redis-server', ['--port', String(redis), '--dir', dir, ...common]);
    // One cluster-enabled node (no slots assigned): enough for the seed check to reach AUTH.
    serve('redis-server', [
      '--port',
      String(clusterNode),
      '--dir',
      dir,
      ...common,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-port',
      String(clusterBus),
    ]);
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${sentinel}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `requirepass ${SENTINEL_PASSWORD}`,
        `sentinel monitor ${MASTER} 127.0.0.1 ${redis} 1`,
        `sentinel auth-pass ${MASTER} ${DATA_PASSWORD}`,
        '',
      ].join('\n'),
    );
    serve('redis-sentinel', [conf]);
    await waitFor(
      async () =>
        (await answers(redis, DATA_PASSWORD)) &&
        (await answers(clusterNode, DATA_PASSWORD)) &&
        (await answers(sentinel, SENTINEL_PASSWORD)),
      { description: 'the password-protected redis, cluster node and sentinel to answer', timeoutMs: 30_000 },
    );
  }, 60_000);

  afterAll(async () => {
    for (const child of servers) {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await gone;
      }
    }
    if (dir) await removeDir(dir);
  }, 30_000);

  it('WRONGPASS of Redis and of the sentinels, a wrong master name, unreachable sentinels and seeds, a non-cluster seed', {
    // Eight app processes starting at once (most of it is loading the app's modules).
    timeout: 180_000,
  }, async () => {
    const sentinelMode = (extra: Record<string, string>) => ({
      REDIS_MODE: 'sentinel',
      REDIS_SENTINELS: `127.0.0.1:${ports.sentinel}`,
      REDIS_MASTER_NAME: MASTER,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
      REDIS_PASSWORD: DATA_PASSWORD,
      ...extra,
    });
    const clusterMode = (extra: Record<string, string>) => ({
      REDIS_MODE: 'cluster',
      REDIS_CLUSTER_NODES: `127.0.0.1:${ports.clusterNode}`,
      REDIS_PASSWORD: DATA_PASSWORD,
      ...extra,
    });
    // Ports nothing listens on.
    const nowhere = '127.0.0.1:1,127.0.0.1:2';
    const cases: { env: Record<string, string>; key: string; says: RegExp }[] = [
      {
        env: { REDIS_URL: `redis://127.0.0.1:${ports.redis}`, REDIS_PASSWORD: 'wrong' },
        key: 'redis.password',
        says: /WRONGPASS/,
      },
      {
        env: sentinelMode({ REDIS_SENTINEL_PASSWORD: 'wrong' }),
        key: 'redis.sentinel.password',
        says: /WRONGPASS/,
      },
      { env: sentinelMode({ REDIS_PASSWORD: 'wrong' }), key: 'redis.password', says: /WRONGPASS/ },
      {
        env: sentinelMode({ REDIS_MASTER_NAME: 'no-such-master' }),
        key: 'redis.sentinel.masterName',
        says: /no-such-master/,
      },
      {
        env: sentinelMode({ REDIS_SENTINELS: nowhere }),
        key: 'redis.sentinel.sentinels',
        says: /ECONNREFUSED/,
      },
      { env: clusterMode({ REDIS_PASSWORD: 'wrong' }), key: 'redis.password', says: /WRONGPASS/ },
      {
        env: clusterMode({ REDIS_CLUSTER_NODES: nowhere }),
        key: 'redis.cluster.nodes',
        says: /ECONNREFUSED/,
      },
      {
        env: clusterMode({ REDIS_CLUSTER_NODES: `127.0.0.1:${ports.redis}` }),
        key: 'redis.mode',
        says: /cluster support disabled/,
      },
    ];
    const runs = cases.map((c, i) => ({
      ...c,
      proc: spawnApp('watcher', `bad-config-${i}`, {
        KUBECONFIG: join(dir, 'never-read.kubeconfig'),
        METRICS_PORT: '0',
        REAPER_FLOW__REDIS__STARTUP_TIMEOUT_MS: '1500',
        ...c.env,
      }),
    }));
    for (const { key, says, proc } of runs) {
      await proc.exited;
      const fatal = logLines(proc).filter((l) => l.msg?.startsWith('cannot start: '));
      expect(proc.child.exitCode, `${proc.label}:\n${describeOutput([proc])}`).toBe(1);
      expect(
        fatal.map((l) => l.msg),
        describeOutput([proc]),
      ).toEqual([
        expect.stringMatching(new RegExp(`^cannot start: ${key.replaceAll('.', '\\.')}: .*${says.source}`)),
      ]);
    }
  });
});
