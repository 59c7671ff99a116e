import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The Prometheus metrics every reaper-flow app exposes (unused ones simply stay at zero). */
export interface Metrics {
  readonly registry: Registry;
  readonly reconcileDuration: Histogram<'kind' | 'outcome'>;
  /**
   * Reconciles run, by kind and cause: the change (`Pod MODIFIED`, `ReaperPod ADDED`...) or the
   * scheduler's own reason (`requeue`...) whose request made the job. Requests coalesce in the
   * queue, so a reconcile that several changes asked for counts once, under one of them.
   */
  readonly reconciles: Counter<'kind' | 'cause'>;
  /** Reconciles the watcher asked for, by the key's kind and the change that asked (before coalescing). */
  readonly reconcileRequests: Counter<'kind' | 'cause'>;
  /** Reconciles the watcher did not ask for because the change could not change them, and why. */
  readonly reconcileSkips: Counter<'kind' | 'cause' | 'reason'>;
  readonly eventLag: Histogram<'kind'>;
  readonly queueDepth: Gauge<'queue' | 'state'>;
  readonly nodeRuns: Counter<'outcome'>;
  readonly nodeRunRetries: Counter;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly apiRequestDuration: Histogram<'verb' | 'resource'>;
  readonly watchEvents: Counter<'kind' | 'type'>;
  readonly statusWrites: Counter<'kind'>;
  /** 1 while every Redis connection of the process is ready, 0 during an outage. */
  readonly redisUp: Gauge;
  readonly redisOutages: Counter;
  /** Seconds Redis was unavailable, added when it is back (reaper_redis_up shows a running outage). */
  readonly redisDownSeconds: Counter;
}

export function createMetrics(app: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const redisUp = new Gauge({
    name: 'reaper_redis_up',
    help: '1 while every Redis connection of this process is ready, 0 during an outage',
    registers,
  });
  redisUp.set(1);
  return {
    redisUp,
    redisOutages: new Counter({
      name: 'reaper_redis_outages_total',
      help: 'Times Redis became unavailable to this process',
      registers,
    }),
    redisDownSeconds: new Counter({
      name: 'reaper_redis_down_seconds_total',
      help: 'Seconds during which Redis was unavailable to this process (added when it is back)',
      registers,
    }),
    registry,
    reconcileDuration: new Histogram({
      name: 'reaper_reconcile_duration_seconds',
      help: 'Duration of one reconcile, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    reconciles: new Counter({
      name: 'reaper_reconciles_total',
      help: 'Reconciles run, by kind and the cause of the request that made the job',
      labelNames: ['kind', 'cause'],
      registers,
    }),
    reconcileRequests: new Counter({
      name: 'reaper_reconcile_requests_total',
      help: 'Reconciles asked for by the watcher, by the key kind and the change that asked (before coalescing)',
      labelNames: ['kind', 'cause'],
      registers,
    }),
    reconcileSkips: new Counter({
      name: 'reaper_reconcile_skips_total',
      help: 'Reconciles not asked for because the change could not change their outcome, by key kind, change and reason',
      labelNames: ['kind', 'cause', 'reason'],
      registers,
    }),
    eventLag: new Histogram({
      name: 'reaper_event_lag_seconds',
      help: 'Time from a change being seen by the watcher to its reconcile starting',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'reaper_queue_depth',
      help: 'Jobs per queue and state (sampled at scrape time)',
      labelNames: ['queue', 'state'],
      registers,
    }),
    nodeRuns: new Counter({
      name: 'reaper_node_runs_total',
      help: 'DaemonJob node runs finished, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    nodeRunRetries: new Counter({
      name: 'reaper_node_run_retries_total',
      help: 'DaemonJob node-run retries scheduled',
      registers,
    }),
    apiRequests: new Counter({
      name: 'reaper_kube_api_requests_total',
      help: 'Kubernetes API requests by verb, resource and HTTP code',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    }),
    apiRequestDuration: new Histogram({
      name: 'reaper_kube_api_request_duration_seconds',
      help: 'Kubernetes API request latency',
      labelNames: ['verb', 'resource'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    watchEvents: new Counter({
      name: 'reaper_watch_events_total',
      help: 'Watch events received, by kind and type',
      labelNames: ['kind', 'type'],
      registers,
    }),
    statusWrites: new Counter({
      name: 'reaper_status_writes_total',
      help: 'Status subresource writes, by kind',
      labelNames: ['kind'],
      registers,
    }),
  };
}
