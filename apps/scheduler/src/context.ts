import type { EventRecorder, KubeClient } from '@reaper-flow/k8s';
import type {
  OverlayNodeQueues,
  OverlayResetRequests,
  QueueFactory,
  ReconcileDelivery,
  ReconcileKind,
  ReconcileQueue,
  ReconcileResult,
  RedisHealth,
  WorldStore,
} from '@reaper-flow/queue';
import type { LiveConfig, Logger, Metrics, StartupConfig } from '@reaper-flow/runtime';

/** Field manager of every write the scheduler makes (status patches, finalizers, Pods). */
export const FIELD_MANAGER = 'reaper-flow-scheduler';

/** What every reconciler of the scheduler gets: where to read the world, where to write. */
export interface SchedulerContext {
  /** Read once at start-up; the reloadable keys are not in it (they are in `live`). */
  readonly config: StartupConfig;
  /** The reloadable keys (retry, status.coalesceMs, rollout.*): read `live.current()` at each use. */
  readonly live: LiveConfig;
  /** Writes only; reads come from `world` (the API is read only on rare fallback paths). */
  readonly kube: KubeClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The world as the watcher last saw it (may lag the API server by a moment). */
  readonly world: WorldStore;
  /** The process's Redis health: outage errors are absorbed there (one log line per outage). */
  readonly redisHealth: RedisHealth;
  /**
   * Builds the stores, queues and workers a reconciler keeps of its own (the DaemonJob engine's
   * store, run flows, slots and flow workers). No reconciler gets a Redis client or the key prefix:
   * Redis is reached only through packages/queue (the architecture test checks it).
   */
  readonly stores: QueueFactory;
  /** The reconcile queue of every kind, to enqueue related objects (e.g. an overlay to reset). */
  readonly queues: Readonly<Record<ReconcileKind, ReconcileQueue>>;
  /** Per-node overlay work for the node agents. */
  readonly overlayQueues: OverlayNodeQueues;
  /** Per-node overlay resets requested by resetPolicy (OnFailure here, OnDelete by the watcher). */
  readonly overlayResetRequests: OverlayResetRequests;
  /** Records Kubernetes Events on the objects (the domain's own events are in packages/domain). */
  readonly recorder: EventRecorder;
  /** The clock (injected so reconcilers stay testable). */
  readonly now: () => Date;
}

/** One reconcile as a reconciler module sees it: the key is parsed, the logger names it. */
export interface ReconcileRequest {
  readonly namespace: string;
  readonly name: string;
  /** Which try this is, and when its change was first seen. */
  readonly delivery: ReconcileDelivery;
  /** `logger.child({key})`: every line a reconcile logs names its object. */
  readonly log: Logger;
}

/** What a reconcile function of a module returns (see ReconcileQueue for `requeueAfterMs`). */
export type ReconcileOutcome = ReconcileResult | undefined;

/** A running reconciler of one kind. */
export interface KindReconciler {
  reconcile(req: ReconcileRequest): Promise<ReconcileOutcome>;
  /** Stops whatever the reconciler started besides its reconcile worker (extra queues, timers). */
  close?(): Promise<void>;
}

/**
 * A pluggable reconciler: the scheduler runs one ReconcileQueue worker per module's kind. The
 * ReaperDaemonJob engine (apps/scheduler/src/daemon-job) plugs in as such a module.
 */
export interface ReconcilerModule {
  readonly kind: ReconcileKind;
  create(ctx: SchedulerContext): KindReconciler | Promise<KindReconciler>;
}
