// Helpers shared by the watcher's integration tests (real API server and Redis of the test harness).
import { randomBytes } from 'node:crypto';
import { KubeClient, REAPER_API_VERSION } from '@reaper-flow/k8s';
import {
  createRedis,
  OverlayResetRequests,
  RECONCILE_KINDS,
  type ReconcileKind,
  ReconcileQueue,
  WorldStore,
} from '@reaper-flow/queue';
import { type Config, ConfigSchema, createLogger, createMetrics, type Metrics } from '@reaper-flow/runtime';
import { testEnv } from '@reaper-flow/test';
import type { Redis } from 'ioredis';
import { startWatcher, type Watcher } from './watcher';

export interface Harness {
  readonly config: Config;
  readonly redis: Redis;
  readonly world: WorldStore;
  start(identity: string): Promise<Watcher>;
  /** The metrics of the watcher started last. */
  metrics(): Metrics;
  /** Keys of the reconcile jobs waiting in the queue of `kind`. */
  queuedKeys(kind: ReconcileKind): Promise<string[]>;
  /** Removes every waiting reconcile job, so the next assertions see only what comes after. */
  clearQueues(): Promise<void>;
  overlayResetRequests(namespace: string, overlay: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Short lease settings, a unique Redis prefix and a unique Lease per harness. */
export function watcherHarness(namespace: string): Harness {
  const prefix = `{rf-${randomBytes(4).toString('hex')}}`;
  const env = testEnv();
  const config = ConfigSchema.parse({
    redis: { url: env.redisUrl, prefix },
    kubernetes: { kubeconfig: env.kubeconfigPath },
    watcher: {
      leaseNamespace: namespace,
      leaseName: `watcher-${prefix.slice(1, -1)}`,
      leaseDurationMs: 3_000,
      renewIntervalMs: 1_000,
      resyncIntervalMs: 600_000,
    },
    log: { level: 'warn' },
  });
  const redis = createRedis({ url: env.redisUrl }, 'worker');
  const world = new WorldStore(redis, prefix, config.queues.retention.eventLogMaxLen);
  const queues = new Map(
    RECONCILE_KINDS.map((kind) => [
      kind,
      new ReconcileQueue(redis, {
        prefix,
        kind,
        retention: config.queues.retention,
        attempts: 1,
        backoffMs: 100,
        failedRequeueMs: 60_000,
      }),
    ]),
  );
  const started: { watcher: Watcher; kube: KubeClient; metrics: Metrics }[] = [];
  const queueOf = (kind: ReconcileKind) => {
    const q = queues.get(kind);
    if (!q) throw new Error(`no queue ${kind}`);
    return q.queue;
  };
  return {
    config,
    redis,
    world,
    async start(identity) {
      const kube = await KubeClient.create({ kubeconfigPath: env.kubeconfigPath });
      const metrics = createMetrics('watcher');
      const watcher = await startWatcher({
        config,
        kube,
        logger: createLogger(`watcher-${identity}`, config.log.level),
        metrics,
        identity,
      });
      started.push({ watcher, kube, metrics });
      return watcher;
    },
    metrics() {
      const last = started.at(-1);
      if (!last) throw new Error('no watcher started yet');
      return last.metrics;
    },
    async queuedKeys(kind) {
      const jobs = await queueOf(kind).getJobs(['waiting', 'prioritized', 'delayed']);
      return jobs.map((j) => String((j?.data as { key?: unknown } | undefined)?.key));
    },
    async clearQueues() {
      for (const kind of RECONCILE_KINDS) {
        const jobs = await queueOf(kind).getJobs(['waiting', 'prioritized', 'delayed']);
        // remove() also clears the job's deduplication key, so the next enqueue adds a fresh job.
        await Promise.all(jobs.map((j) => j?.remove().catch(() => undefined)));
      }
    },
    overlayResetRequests: (ns, overlay) => new OverlayResetRequests(redis, prefix).list(ns, overlay),
    async close() {
      for (const { watcher, kube } of started.splice(0)) {
        await watcher.stop({ release: true }).catch(() => undefined);
        kube.close();
      }
      await Promise.all([...queues.values()].map((q) => q.close()));
      redis.disconnect();
    },
  };
}

/** Bodies of the reaper.io objects the tests create. */
export const objects = {
  overlay: (name: string) => ({
    apiVersion: REAPER_API_VERSION,
    kind: 'ReaperOverlay',
    metadata: { name },
    spec: { resetPolicy: 'OnDelete' },
  }),
  daemonJob: (name: string, after: string[] = []) => ({
    apiVersion: REAPER_API_VERSION,
    kind: 'ReaperDaemonJob',
    metadata: { name },
    spec: { command: ['true'], triggerOn: 'Manual', ...(after.length ? { after } : {}) },
  }),
  reaperPod: (name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
    apiVersion: REAPER_API_VERSION,
    kind: 'ReaperPod',
    metadata: { name, ...metadata },
    spec: { command: ['true'], ...spec },
  }),
  /** `nodeName`: pinned to a node no kubelet serves, so nothing but the test changes the Pod. */
  backingPod: (name: string, owner: { name: string; uid: string }, nodeName?: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: { 'app.kubernetes.io/managed-by': 'reaper-flow' },
      ownerReferences: [
        {
          apiVersion: REAPER_API_VERSION,
          kind: 'ReaperPod',
          name: owner.name,
          uid: owner.uid,
          controller: true,
        },
      ],
    },
    // No nodeName and no scheduler in the test cluster: the Pod stays Pending, which is all we need.
    spec: {
      containers: [{ name: 'main', image: 'busybox' }],
      restartPolicy: 'Never',
      ...(nodeName ? { nodeName } : {}),
    },
  }),
};
