// Redis with Sentinel on loopback, from Debian's redis-server and redis-sentinel: a primary (the
// process named `redis`, as in the standalone cluster), two replicas and three sentinels with a
// quorum of two. Kill `redis` and the sentinels promote a replica; nothing restarts it.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ProcessSpec, redisSpec } from './control-plane';

const run = promisify(execFile);
const LOOPBACK = '127.0.0.1';

/** The master name the local sentinels monitor the primary under. */
export const LOCAL_MASTER_NAME = 'reaper';

/** Ports of the Sentinel topology. */
export interface SentinelPorts {
  readonly primary: number;
  readonly replicas: readonly [number, number];
  readonly sentinels: readonly [number, number, number];
}

/** What the apps need to find the primary: recorded in state.json and printed by `env`. */
export interface SentinelTopology {
  readonly masterName: string;
  /** `127.0.0.1:PORT` of each sentinel. */
  readonly sentinels: readonly string[];
}

/**
 * Down after 1 s without a reply, so a local failover takes a few seconds (production values are
 * longer: 5-30 s, to ride out a GC pause or a network blip without a failover).
 */
function sentinelConf(port: number, primaryPort: number, dir: string): string {
  return [
    `port ${port}`,
    `bind ${LOOPBACK}`,
    'daemonize no',
    `dir ${dir}`,
    `sentinel monitor ${LOCAL_MASTER_NAME} ${LOOPBACK} ${primaryPort} 2`,
    `sentinel down-after-milliseconds ${LOCAL_MASTER_NAME} 1000`,
    `sentinel failover-timeout ${LOCAL_MASTER_NAME} 10000`,
    `sentinel parallel-syncs ${LOCAL_MASTER_NAME} 1`,
    '',
  ].join('\n');
}

/**
 * The process specs of the topology. Sentinels rewrite their config file (that is how they remember
 * the current primary), so each gets its own file in `dataDirs.sentinels[i]`.
 */
export async function sentinelSpecs(
  redisServer: string,
  redisSentinel: string,
  ports: SentinelPorts,
  dataDirs: { primary: string; replicas: readonly string[]; sentinels: readonly string[] },
): Promise<ProcessSpec[]> {
  const specs: ProcessSpec[] = [redisSpec(redisServer, ports.primary, dataDirs.primary)];
  ports.replicas.forEach((port, i) => {
    const base = redisSpec(redisServer, port, dataDirs.replicas[i] as string);
    specs.push({
      ...base,
      name: `redis-replica-${i + 1}`,
      args: [...base.args, '--replicaof', LOOPBACK, String(ports.primary)],
    });
  });
  for (const [i, port] of ports.sentinels.entries()) {
    const dir = dataDirs.sentinels[i] as string;
    const conf = join(dir, 'sentinel.conf');
    await writeFile(conf, sentinelConf(port, ports.primary, dir));
    // redis-sentinel rewrites its cmdline to "redis-sentinel 127.0.0.1:PORT [sentinel]".
    specs.push({
      name: `redis-sentinel-${i + 1}`,
      command: redisSentinel,
      args: [conf],
      match: 'redis-sentinel',
    });
  }
  return specs;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', LOOPBACK, '-p', String(port), ...args], { timeout: 3000 });
  return stdout;
}

/** `SENTINEL master NAME` as a map (redis-cli prints field and value on alternate lines). */
async function sentinelMaster(port: number): Promise<Map<string, string>> {
  const lines = (await cli(port, 'SENTINEL', 'master', LOCAL_MASTER_NAME)).trim().split('\n');
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) fields.set(lines[i] as string, lines[i + 1] as string);
  return fields;
}

/**
 * Ready for a failover: both replicas are in sync with the primary, and every sentinel sees the
 * primary up, both replicas and the two other sentinels (fewer and a quorum could not be reached).
 */
export async function sentinelTopologyReady(ports: SentinelPorts): Promise<boolean> {
  for (const port of ports.replicas) {
    if (!(await cli(port, 'INFO', 'replication')).includes('master_link_status:up')) return false;
  }
  for (const port of ports.sentinels) {
    const master = await sentinelMaster(port);
    if (master.get('flags') !== 'master') return false;
    if (master.get('num-slaves') !== '2' || master.get('num-other-sentinels') !== '2') return false;
  }
  return true;
}

/** The `host:port` the sentinel on `port` currently names as the primary. */
export async function currentPrimary(sentinelPort: number): Promise<string> {
  const [host, port] = (await cli(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', LOCAL_MASTER_NAME))
    .trim()
    .split('\n');
  return `${host}:${port}`;
}
