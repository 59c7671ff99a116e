// Redis Cluster on loopback, from Debian's redis-server: six nodes with cluster-enabled, three
// primaries and one replica each, created with `redis-cli --cluster create`. The first node keeps
// the process name `redis` (as in the standalone cluster); the others are redis-cluster-2..6. Kill
// the primary of a slot and the cluster promotes its replica; nothing restarts it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type ProcessSpec, redisSpec } from './control-plane';

const run = promisify(execFile);
const LOOPBACK = '127.0.0.1';

/** Nodes of the local cluster: the first three become primaries, the last three their replicas. */
export const CLUSTER_NODES = 6;

/** What the apps need to reach the cluster: recorded in state.json and printed by `env`. */
export interface ClusterTopology {
  /** `127.0.0.1:PORT` of every node, in the order of their process names (redis, redis-cluster-2, ...). */
  readonly nodes: readonly string[];
}

/** The process name of the `i`-th node (0-based). */
export function clusterProcessName(i: number): string {
  return i === 0 ? 'redis' : `redis-cluster-${i + 1}`;
}

/** Process names of every node a local Redis Cluster may have (for `down`). */
export const CLUSTER_PROCESS_NAMES = Array.from({ length: CLUSTER_NODES }, (_, i) => clusterProcessName(i));

/**
 * A node's spec: the standalone server's (AOF, noeviction, loopback) plus cluster mode. A node is
 * marked failing after 1 s without a reply, so a local failover takes a second or two (production
 * values are longer, 5-15 s, to ride out a GC pause or a network blip).
 */
export function clusterNodeSpec(
  redisServer: string,
  i: number,
  ports: { readonly port: number; readonly busPort: number },
  dataDir: string,
): ProcessSpec {
  const { port, busPort } = ports;
  const base = redisSpec(redisServer, port, dataDir);
  return {
    ...base,
    name: clusterProcessName(i),
    args: [
      ...base.args,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `${dataDir}/nodes.conf`,
      '--cluster-node-timeout',
      '1000',
      // Its own free port: the default (port + 10000) may be taken or past 65535.
      '--cluster-port',
      String(busPort),
    ],
  };
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', LOOPBACK, '-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

/** Assigns the slots: three primaries, one replica each (`redis-cli --cluster create`). */
export async function createCluster(ports: readonly number[]): Promise<void> {
  await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `${LOOPBACK}:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { timeout: 60_000 },
  );
}

/** `CLUSTER INFO` or `INFO replication` as a map. */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return out;
}

/**
 * Ready for a failover: every node says the cluster is ok with all slots assigned and six nodes
 * known, and every replica is in sync with its primary.
 */
export async function clusterReady(ports: readonly number[]): Promise<boolean> {
  let replicas = 0;
  for (const port of ports) {
    const info = fields(await cli(port, 'CLUSTER', 'INFO'));
    if (info.get('cluster_state') !== 'ok' || info.get('cluster_slots_ok') !== '16384') return false;
    if (info.get('cluster_known_nodes') !== String(ports.length)) return false;
    const replication = fields(await cli(port, 'INFO', 'replication'));
    if (replication.get('role') === 'slave') {
      if (replication.get('master_link_status') !== 'up') return false;
      replicas += 1;
    }
  }
  return replicas === ports.length / 2;
}

/**
 * `host:port` of the primary serving `key`'s slot, as the node on `port` sees it (CLUSTER KEYSLOT,
 * then the connected, non-failing primary whose slot ranges in CLUSTER NODES hold it).
 */
export async function clusterPrimaryOf(port: number, key: string): Promise<string> {
  const slot = Number((await cli(port, 'CLUSTER', 'KEYSLOT', key)).trim());
  // CLUSTER NODES: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slots...>`.
  for (const line of (await cli(port, 'CLUSTER', 'NODES')).trim().split('\n')) {
    const [, address, flags, , , , , link, ...ranges] = line.split(' ');
    if (!flags?.split(',').includes('master') || flags.includes('fail') || link !== 'connected') continue;
    for (const range of ranges) {
      const [from, to = from] = range.split('-').map(Number);
      if (from !== undefined && to !== undefined && slot >= from && slot <= to)
        return (address as string).split('@')[0] as string;
    }
  }
  throw new Error(`no connected primary serves slot ${slot} of ${key} (asked 127.0.0.1:${port})`);
}
