// `npm run cluster -- <command>`: the local control plane for development and tests (no Docker).
// Progress and diagnostics go to stderr; stdout carries only what a script may consume (env, status).
import { parseArgs } from 'node:util';
import { isAlive } from '../control-plane/daemon';
import { stopLocalCluster } from '../control-plane/teardown';
import { stderrLogger } from '../log';
import { defaultStateDir } from '../paths';
import { type ClusterState, readState } from '../state';

// The Kubernetes client library takes seconds to load: only the commands that talk to the API
// import it (dynamically), so `env` and `down` stay quick.
const k8s = () => import('@reaper-flow/k8s');

const HELP = `Usage: npm run cluster -- <command> [options]

Commands:
  up [--nodes N] [--real-nodes N] [--redis standalone|sentinel|cluster]
                          start etcd, kube-apiserver, kube-controller-manager, redis and the stand-in
                          kubelet, with nodes node-1..node-N Ready (default 3); no-op if already up.
                          --real-nodes N: also N real kubelet nodes real-1..real-N (containerd + runc,
                          installed with apt-get and built when missing; root only), and the
                          node-lifecycle controller.
                          --redis sentinel: a primary, two replicas and three sentinels (master name
                          "reaper") from Debian's redis-server and redis-sentinel, instead of one redis;
                          --redis cluster: a Redis Cluster of three primaries and three replicas
                          (redis-server with cluster-enabled, redis-cli --cluster create)
  down                    stop every process of the cluster and delete its data
  status                  processes, ports and nodes
  env                     print shell exports: eval "$(npm run -s cluster -- env)"
  node add NAME [--label k=v]... [--taint k=v:Effect]...
  node ready NAME         set the node's Ready condition True
  node notready NAME      set it False
  node reboot NAME        Ready False, then True with a new bootID
  node remove NAME
  node fail NAME --job JOB --times N [--namespace NS]
                          the next N runs of JOB (namespace NS, default "default") on NAME fail (exit 1)

State dir: $REAPER_FLOW_STATE_DIR or <repo>/.reaper-flow/local (now ${defaultStateDir()})`;

const log = stderrLogger('cluster');

/** Thrown for a cluster that is not running; the message says what to do. */
export class NotUpError extends Error {
  readonly code = 'NotUp';
  constructor() {
    super('cluster is not up: run `npm run cluster -- up`');
  }
}

/** The running cluster's state, or NotUpError. */
export async function requireUp(stateDir: string): Promise<ClusterState> {
  const state = await readState(stateDir);
  if (!state?.processes.some(isAlive)) throw new NotUpError();
  return state;
}

/** Everything but (possibly) the stand-in kubelet runs and the API server is ready. */
async function healthy(state: ClusterState): Promise<boolean> {
  if (!state.processes.every((p) => p.name === 'stand-in-kubelet' || isAlive(p))) return false;
  const { KubeClient } = await k8s();
  const { apiserverReady } = await import('../control-plane/readiness');
  const client = await KubeClient.create({ kubeconfigPath: state.kubeconfigPath, requestTimeoutMs: 5000 });
  try {
    return await apiserverReady(client);
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function up(args: string[], stateDir: string): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string', default: '3' },
      'real-nodes': { type: 'string', default: '0' },
      redis: { type: 'string', default: 'standalone' },
    },
  });
  const realNodes = Number(values['real-nodes']);
  if (!Number.isInteger(realNodes) || realNodes < 0 || realNodes > 20)
    throw new Error(`--real-nodes must be an integer from 0 to 20, got ${values['real-nodes']}`);
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 0)
    throw new Error(`--nodes must be an integer >= 0, got ${values.nodes}`);
  const redis = values.redis;
  if (redis !== 'standalone' && redis !== 'sentinel' && redis !== 'cluster')
    throw new Error(`--redis must be standalone, sentinel or cluster, got ${redis}`);
  const started = performance.now();
  const { KubeClient } = await k8s();
  const { restartKubeletDaemon, startLocalCluster } = await import('../cluster');
  const { addNode, listSimulatedNodes } = await import('../simulated-nodes/nodes');
  const state = await readState(stateDir);
  if (state && (await healthy(state))) {
    const kubelet = state.processes.find((p) => p.name === 'stand-in-kubelet');
    if (state.kubelet === 'daemon' && (!kubelet || !isAlive(kubelet))) await restartKubeletDaemon(state, log);
    const client = await KubeClient.create({ kubeconfigPath: state.kubeconfigPath });
    try {
      const existing = new Set((await listSimulatedNodes(client)).map((n) => n.metadata.name));
      for (let i = 1; i <= nodes; i++)
        if (!existing.has(`node-${i}`)) await addNode(client, { name: `node-${i}` });
    } finally {
      client.close();
    }
    const running = state.redisSentinel ? 'sentinel' : state.redisCluster ? 'cluster' : 'standalone';
    if (running !== redis) log(`note: this cluster runs Redis ${running}; \`down\` first to change it`);
    const runningReal = state.realNodes?.length ?? 0;
    if (runningReal !== realNodes)
      log(`note: this cluster has ${runningReal} real node(s); \`down\` first to change that`);
    log(`already up (state dir ${stateDir})`);
    return;
  }
  if (state) {
    log('a previous cluster in this state dir is not healthy: stopping it first');
    await stopLocalCluster(stateDir, log);
  }
  await startLocalCluster({ stateDir, nodes, realNodes, withKubelet: true, detach: true, log, redis });
  log(
    `up in ${((performance.now() - started) / 1000).toFixed(1)} s; use it with: eval "$(npm run -s cluster -- env)"`,
  );
}

async function status(stateDir: string): Promise<void> {
  const state = await requireUp(stateDir);
  const out: string[] = [
    `state dir   ${stateDir}`,
    `kubeconfig  ${state.kubeconfigPath}`,
    `apiserver   ${state.apiserverUrl}`,
    `redis       ${state.redisUrl}${state.redisSentinel ? ` (first primary; sentinels ${state.redisSentinel.sentinels.join(', ')}, master name ${state.redisSentinel.masterName})` : ''}${state.redisCluster ? ` (Redis Cluster; nodes ${state.redisCluster.nodes.join(', ')})` : ''}`,
    '',
    'processes:',
  ];
  const ports: Record<string, string> = {
    etcd: `${state.ports.etcdClient} (peer ${state.ports.etcdPeer})`,
    'kube-apiserver': String(state.ports.apiserver),
    'kube-controller-manager': String(state.ports.controllerManager),
    'kube-scheduler': state.ports.scheduler === undefined ? '-' : String(state.ports.scheduler),
    redis: String(state.ports.redis),
  };
  for (const p of state.processes) {
    const port = ports[p.name] ? `  127.0.0.1:${ports[p.name]}` : '';
    out.push(
      `  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${isAlive(p) ? 'alive' : 'DEAD '}${port}`,
    );
  }
  if (state.kubelet === 'in-process')
    out.push('  stand-in-kubelet         runs inside the process that started the cluster');
  out.push('', 'nodes:');
  const { KubeClient } = await k8s();
  const { isNodeReady, listSimulatedNodes } = await import('../simulated-nodes/nodes');
  const { listRealNodes } = await import('../real-nodes/real-node-status');
  const client = await KubeClient.create({ kubeconfigPath: state.kubeconfigPath, requestTimeoutMs: 5000 });
  try {
    const nodes = await listSimulatedNodes(client);
    if (nodes.length === 0) out.push('  (none)');
    for (const n of nodes) {
      out.push(
        `  ${n.metadata.name.padEnd(24)} ${isNodeReady(n) ? 'Ready   ' : 'NotReady'} bootID ${n.status?.nodeInfo?.bootID ?? '?'}`,
      );
    }
    for (const n of await listRealNodes(client)) {
      out.push(
        `  ${n.metadata.name.padEnd(24)} ${isNodeReady(n) ? 'Ready   ' : 'NotReady'} real kubelet ${n.status?.nodeInfo?.kubeletVersion ?? '?'}, ${n.status?.nodeInfo?.containerRuntimeVersion ?? '?'}`,
      );
    }
  } catch (err) {
    out.push(`  (API server not answering: ${(err as Error).message})`);
  } finally {
    client.close();
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function env(stateDir: string): Promise<void> {
  const state = await requireUp(stateDir);
  const sentinel = state.redisSentinel
    ? ` REDIS_MODE=sentinel REDIS_SENTINELS=${shellQuote(state.redisSentinel.sentinels.join(','))} REDIS_MASTER_NAME=${shellQuote(state.redisSentinel.masterName)}`
    : state.redisCluster
      ? ` REDIS_MODE=cluster REDIS_CLUSTER_NODES=${shellQuote(state.redisCluster.nodes.join(','))}`
      : '';
  process.stdout.write(
    `export KUBECONFIG=${shellQuote(state.kubeconfigPath)} REDIS_URL=${shellQuote(state.redisUrl)}${sentinel} PATH=${shellQuote(state.binDir)}:$PATH\n`,
  );
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const stateDir = defaultStateDir();
  switch (command) {
    case 'up':
      await up(rest, stateDir);
      return 0;
    case 'down': {
      const stopped = await stopLocalCluster(stateDir, log);
      log(
        stopped ? 'down: every process stopped, data removed' : `nothing to stop (no cluster in ${stateDir})`,
      );
      return 0;
    }
    case 'status':
      await status(stateDir);
      return 0;
    case 'env':
      await env(stateDir);
      return 0;
    case 'node': {
      const state = await requireUp(stateDir);
      const { nodeCommand } = await import('./cli-node');
      await nodeCommand(rest, state, log);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${HELP}\n`);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${HELP}\n`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  },
);
