import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig, watchConfig } from './config';
import { ConfigSchema } from './config-schema';
import { LiveConfig } from './live-config';

const example = join(dirname(fileURLToPath(import.meta.url)), '../../../config/reaper-flow.example.yaml');

function leafKeys(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

describe('configuration', () => {
  it('the example file is valid and equals the defaults', () => {
    expect(loadConfig({ file: example, env: {} })).toEqual(loadConfig({ env: {} }));
  });

  it('the example file documents every key of the schema', () => {
    const text = readFileSync(example, 'utf8');
    const documented = new Set(leafKeys(parseYaml(text)));
    // Optional keys without a default are shown commented out.
    const commented = [...text.matchAll(/^\s*# (\w+):/gm)].map((m) => m[1]);
    const all = leafKeys(ConfigSchema.parse({}));
    const missing = all.filter((k) => !documented.has(k));
    expect(missing).toEqual([]);
    expect(commented).toEqual(
      expect.arrayContaining(['password', 'username', 'kubeconfig', 'token', 'nodeName']),
    );
  });

  it('environment variables override the file, case-insensitively', () => {
    const config = loadConfig({
      file: example,
      env: {
        REAPER_FLOW__QUEUES__CONCURRENCY__NODE_RUNS: '7',
        REDIS_URL: 'redis://10.1.2.3:6380',
        LOG_LEVEL: 'debug',
      },
    });
    expect(config.queues.concurrency.nodeRuns).toBe(7);
    expect(config.redis.url).toBe('redis://10.1.2.3:6380');
    expect(config.log.level).toBe('debug');
  });

  it('an invalid value is refused with the key, the value and what is allowed', () => {
    const attempt = () => loadConfig({ env: { LOG_LEVEL: 'loud', REAPER_FLOW__RETRY__JITTER: '3' } });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toContain(
        'log.level: got "loud"; one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
      );
      expect(message).toContain('retry.jitter: got 3');
    }
  });

  it('an unknown key is an error, not silently ignored', () => {
    expect(() => loadConfig({ env: { REAPER_FLOW__QUEUES__CONCURENCY__NODERUNS: '2' } })).toThrow(
      /REAPER_FLOW__QUEUES__CONCURENCY__NODERUNS: no such configuration key/,
    );
  });

  it('a prefix without a hash tag is refused', () => {
    expect(() => loadConfig({ env: { REAPER_FLOW_PREFIX: 'reaper' } })).toThrow(
      /redis.prefix: got "reaper"; must start with a hash tag/,
    );
  });

  it('sentinel mode takes the sentinels as a list or one comma-separated variable', () => {
    const config = loadConfig({
      env: {
        REDIS_MODE: 'sentinel',
        REDIS_SENTINELS: '10.0.0.5:26379, 10.0.0.6:26379',
        REDIS_MASTER_NAME: 'rf',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      },
    });
    expect(config.redis.mode).toBe('sentinel');
    expect(config.redis.sentinel).toEqual({
      sentinels: ['10.0.0.5:26379', '10.0.0.6:26379'],
      masterName: 'rf',
      password: 'sentinel-secret',
      tls: false,
    });
  });

  it('sentinel mode without sentinels, or a sentinel that is not host:port, is refused naming the key', () => {
    expect(() => loadConfig({ env: { REDIS_MODE: 'sentinel' } })).toThrow(
      /redis.sentinel.sentinels: got missing; at least one sentinel \(host:port\) is required when redis.mode is sentinel/,
    );
    expect(() => loadConfig({ env: { REDIS_MODE: 'sentinel', REDIS_SENTINELS: '10.0.0.5' } })).toThrow(
      /redis.sentinel.sentinels.0: got "10.0.0.5"; must be host:port/,
    );
  });

  it('cluster mode takes the seed nodes as a list or one comma-separated variable', () => {
    const config = loadConfig({
      env: { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: '10.0.0.5:6379,10.0.0.6:6379', REDIS_PASSWORD: 's' },
    });
    expect(config.redis.mode).toBe('cluster');
    expect(config.redis.cluster).toEqual({ nodes: ['10.0.0.5:6379', '10.0.0.6:6379'] });
    expect(config.redis.password).toBe('s');
  });

  it('cluster mode without seed nodes, or a prefix without a hash tag, is refused saying why', () => {
    expect(() => loadConfig({ env: { REDIS_MODE: 'cluster' } })).toThrow(
      /redis.cluster.nodes: got missing; at least one seed node \(host:port\) is required when redis.mode is cluster/,
    );
    expect(() =>
      loadConfig({
        env: { REDIS_MODE: 'cluster', REDIS_CLUSTER_NODES: '10.0.0.5:6379', REAPER_FLOW_PREFIX: 'rf' },
      }),
    ).toThrow(/redis.prefix: got "rf"; must start with a hash tag such as \{reaper\}: .*CROSSSLOT/);
  });

  it('a change of a reloadable key in the mounted file is applied without a restart', {
    timeout: 15_000,
  }, async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rf-config-')), 'reaper-flow.yaml');
    writeFileSync(file, 'retry:\n  baseMs: 1000\n');
    const startup = loadConfig({ file, env: {} });
    const live = new LiveConfig(startup);
    const changes: string[][] = [];
    const stop = watchConfig(
      file,
      startup,
      (next, changed) => {
        live.apply(next);
        changes.push(changed);
      },
      () => undefined,
      100,
    );
    try {
      writeFileSync(file, 'retry:\n  baseMs: 250\nqueues:\n  reconcileAttempts: 9\n');
      const deadline = Date.now() + 10_000;
      while (changes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(changes).toEqual([['retry']]);
      expect(live.current().retry.baseMs).toBe(250);
      // Not reloadable: the live part has no such key, and the start-up value stays as it was.
      expect(Object.keys(live.current())).not.toContain('queues');
      expect(startup.queues.reconcileAttempts).toBe(5);
    } finally {
      stop();
    }
  });
});
