// Starts reaper-flow's apps in the test process, wired like separate processes would be (each its
// own KubeClient, Redis connections, logger and metrics registry), against the harness's cluster.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '@reaper-flow/k8s';
import { removeDir } from '@reaper-flow/local-cluster';
import { type NodeAgent, startNodeAgent } from '@reaper-flow/node-agent';
import {
  type Config,
  createAppKubeClient,
  createLogger,
  createMetrics,
  type LogDestination,
  loadConfig,
} from '@reaper-flow/runtime';
import { type Scheduler, startScheduler } from '@reaper-flow/scheduler';
import { startWatcher, type Watcher } from '@reaper-flow/watcher';
import { waitFor } from '../harness/index';

export interface StartAppsOptions {
  readonly kubeconfigPath: string;
  readonly redisUrl: string;
  /** Redis key prefix of this test file (hash-tagged, e.g. useTestNamespace().queuePrefix). */
  readonly prefix: string;
  /** Nodes that get a node agent each. */
  readonly nodes: readonly string[];
  /** Parent of the agents' state dirs (`<stateRoot>/<node>`); default a temp dir removed on stop. */
  readonly stateRoot?: string | undefined;
  /**
   * Each agent's state dir, instead of `<stateRoot>/<node>`: pass the stand-in kubelet's Reaper dir
   * of the node (`nodeLayout(kubeletStateDir, node).reaperDir`) when Pods must see the overlays.
   */
  readonly stateDirOf?: ((node: string) => string) | undefined;
  /** Extra configuration variables (REAPER_FLOW__SECTION__KEY=value), applied over the test defaults. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** Receives every log line of the apps (JSON) instead of stdout, for tests that assert on logs. */
  readonly logSink?: LogDestination | undefined;
}

export interface RunningApps {
  readonly config: Config;
  readonly watcher: Watcher;
  readonly scheduler: Scheduler;
  /** Parent of the agents' state dirs. */
  readonly stateRoot: string;
  /** The state dir of a node's agent (where its overlays live). */
  stateDirOf(node: string): string;
  /** Starts an agent for a node that joined later. */
  addAgent(node: string): Promise<void>;
  /** Stops one node's agent (an agent going away); its queued jobs wait. */
  stopAgent(node: string): Promise<void>;
  /** Stops everything started (agents, scheduler, watcher) and removes a temp state root. */
  stop(): Promise<void>;
}

/** A Lease name (DNS subdomain) of its own per prefix, so parallel test files each have a leader. */
function leaseNameFor(prefix: string): string {
  const cleaned = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `rf-watcher-${cleaned}`.slice(0, 63).replace(/-+$/, '');
}

/**
 * Starts the watcher, the scheduler and one node agent per node in this process, and resolves once
 * the watcher leads with synced informers, the scheduler's workers run and every agent is ready.
 * On a failure half-way, whatever was started is stopped again.
 */
export async function startApps(opts: StartAppsOptions): Promise<RunningApps> {
  const config = loadConfig({
    env: {
      REDIS_URL: opts.redisUrl,
      REAPER_FLOW_PREFIX: opts.prefix,
      KUBECONFIG: opts.kubeconfigPath,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      METRICS_PORT: '0',
      REAPER_FLOW__WATCHER__LEASE_NAME: leaseNameFor(opts.prefix),
      // Quick retries: tests wait for convergence, and a transient error should not cost seconds.
      REAPER_FLOW__QUEUES__RECONCILE_BACKOFF_MS: '200',
      REAPER_FLOW__QUEUES__FAILED_REQUEUE_MS: '5000',
      ...opts.env,
    },
  });
  const ownRoot = opts.stateRoot === undefined;
  const stateRoot = opts.stateRoot ?? (await mkdtemp(join(tmpdir(), 'reaper-flow-agents-')));
  const stops: (() => Promise<unknown>)[] = [];
  const clients: KubeClient[] = [];
  const agents = new Map<string, { agent: NodeAgent; kube: KubeClient }>();
  const agentMetrics = createMetrics('node-agent');
  const agentLogger = createLogger('node-agent', config.log.level, opts.logSink);

  const stopAll = async () => {
    await Promise.allSettled([...agents.keys()].map((node) => stopAgent(node)));
    // Scheduler before watcher, reverse start order.
    for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
    for (const c of clients) c.close();
    if (ownRoot) await removeDir(stateRoot).catch(() => undefined);
  };

  const stateDirOf = opts.stateDirOf ?? ((node: string) => join(stateRoot, node));

  async function addAgent(node: string): Promise<void> {
    if (agents.has(node)) return;
    const kube = await createAppKubeClient(config, agentMetrics, 'reaper-flow-node-agent-test');
    const agent = await startNodeAgent({
      config,
      kube,
      logger: agentLogger,
      metrics: agentMetrics,
      nodeName: node,
      stateDir: stateDirOf(node),
    });
    agents.set(node, { agent, kube });
    await waitFor(() => agent.ready() === true, {
      description: `node agent of ${node} ready`,
      timeoutMs: 30_000,
    });
  }

  async function stopAgent(node: string): Promise<void> {
    const entry = agents.get(node);
    if (!entry) return;
    agents.delete(node);
    await entry.agent.stop();
    entry.kube.close();
  }

  try {
    const watcherMetrics = createMetrics('watcher');
    const watcherKube = await createAppKubeClient(config, watcherMetrics, 'reaper-flow-watcher-test');
    clients.push(watcherKube);
    const watcher = await startWatcher({
      config,
      kube: watcherKube,
      logger: createLogger('watcher', config.log.level, opts.logSink),
      metrics: watcherMetrics,
      identity: `test-${process.pid}-${randomBytes(3).toString('hex')}`,
    });
    stops.push(() => watcher.stop());

    const schedulerMetrics = createMetrics('scheduler');
    const schedulerKube = await createAppKubeClient(config, schedulerMetrics, 'reaper-flow-scheduler-test');
    clients.push(schedulerKube);
    const scheduler = await startScheduler({
      config,
      kube: schedulerKube,
      logger: createLogger('scheduler', config.log.level, opts.logSink),
      metrics: schedulerMetrics,
    });
    stops.push(() => scheduler.stop(5_000));

    for (const node of opts.nodes) await addAgent(node);

    await waitFor(() => watcher.isLeader() && watcher.ready() === true, {
      description: 'the watcher leading with synced informers',
      timeoutMs: 60_000,
    });
    await waitFor(() => scheduler.ready() === true, {
      description: 'the scheduler ready',
      timeoutMs: 30_000,
    });

    let stopped: Promise<void> | undefined;
    return {
      config,
      watcher,
      scheduler,
      stateRoot,
      stateDirOf,
      addAgent,
      stopAgent,
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
