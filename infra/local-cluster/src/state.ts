import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { stateLayout } from './paths';

const daemonSchema = z.object({
  name: z.string(),
  pid: z.number().int().positive(),
  match: z.string(),
  log: z.string(),
  /** The command line it was started with (a server may rewrite its /proc cmdline, as Redis does). */
  argv: z.array(z.string()).optional(),
});

const realNodeSchema = z.object({
  name: z.string(),
  /** Numbers its bridge, subnet and cgroup root (see real-node-config.ts). */
  slot: z.number().int().positive(),
  root: z.string(),
  kubeletPort: z.number(),
  healthzPort: z.number(),
});

/** A real kubelet node of the cluster (`up --real-nodes N`). */
export type RealNodeRecord = z.infer<typeof realNodeSchema>;

const stateSchema = z.object({
  version: z.literal(1),
  stateDir: z.string(),
  binDir: z.string(),
  kubeconfigPath: z.string(),
  redisUrl: z.string(),
  apiserverUrl: z.string(),
  ports: z.object({
    etcdClient: z.number(),
    etcdPeer: z.number(),
    apiserver: z.number(),
    controllerManager: z.number(),
    /** Absent in the state of a cluster started before kube-scheduler was part of it. */
    scheduler: z.number().optional(),
    redis: z.number(),
  }),
  /** Present when Redis runs with Sentinel (`up --redis sentinel`): where the apps find the primary. */
  redisSentinel: z.object({ masterName: z.string(), sentinels: z.array(z.string()) }).optional(),
  /** Present when Redis runs as a Cluster (`up --redis cluster`): every node's address. */
  redisCluster: z.object({ nodes: z.array(z.string()) }).optional(),
  processes: z.array(daemonSchema),
  /** Directories removed by `down` (etcd and redis data, node roots, PKI). */
  dataDirs: z.array(z.string()),
  /** How the stand-in kubelet runs: a daemon in `processes`, inside the starting process, or not at all. */
  kubelet: z.enum(['daemon', 'in-process', 'none']),
  /** Real kubelet nodes, recorded before each changes the host, so `down` can undo a failed start. */
  realNodes: z.array(realNodeSchema).optional(),
  /** net.ipv4.ip_forward before the real nodes' bridges turned it on; `down` restores it. */
  ipForwardBefore: z.string().optional(),
  startedAt: z.string(),
});

/** What `up` leaves behind for `down`, `status`, `env` and `node`: read back and validated with zod. */
export type ClusterState = z.infer<typeof stateSchema>;

/** Reads state.json; undefined when there is none (cluster not up). */
export async function readState(stateDir: string): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await readFile(stateLayout(stateDir).stateFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = stateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(`${stateLayout(stateDir).stateFile} is not a valid state file: ${parsed.error.message}`);
  }
  return parsed.data;
}

const pendingWrites = new Map<string, Promise<void>>();

/**
 * Writes state.json atomically (a reader never sees half a file). Writes from this process go one
 * after another in call order, so concurrent start-up steps never interleave a temp file or let an
 * older state land last.
 */
export function writeState(state: ClusterState): Promise<void> {
  const file = stateLayout(state.stateDir).stateFile;
  const text = `${JSON.stringify(state, null, 2)}\n`;
  const write = async () => {
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
  };
  const next = (pendingWrites.get(file) ?? Promise.resolve()).then(write, write);
  pendingWrites.set(file, next);
  return next;
}
