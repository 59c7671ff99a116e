import { z } from 'zod';

// The one configuration schema of reaper-flow. Every key has a default, so an empty file is a
// valid configuration for the local cluster; config/reaper-flow.example.yaml documents each key.

const ms = (def: number, desc: string) => z.number().int().min(0).default(def).describe(desc);
const positive = (def: number, desc: string) => z.number().int().min(1).default(def).describe(desc);

export const BackoffConfig = z
  .object({
    type: z.enum(['exponential', 'fixed']).default('exponential').describe('Backoff shape'),
    baseMs: ms(10_000, 'Delay before the first retry'),
    factor: z.number().min(1).default(2).describe('Growth per retry (exponential only)'),
    capMs: ms(360_000, 'Largest delay between retries'),
    jitter: z.number().min(0).max(1).default(0.2).describe('Random +/- fraction applied to each delay'),
  })
  .strict();

/** `host:port`, as Sentinel and Cluster seed lists are written. */
const address = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+:\d{1,5}$/, 'must be host:port, e.g. 10.0.0.5:26379')
  .describe('host:port');

/** A list of addresses: a YAML list, or one comma-separated string (as an environment variable). */
const addressList = (desc: string) =>
  z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((a) => a.trim())
              .filter(Boolean)
          : v,
      z.array(address),
    )
    .default([])
    .describe(desc);

export const RedisConfig = z
  .object({
    mode: z
      .enum(['standalone', 'sentinel', 'cluster'])
      .default('standalone')
      .describe(
        'One server (url), a primary found through Sentinel (sentinel.*) or a Redis Cluster (cluster.*)',
      ),
    url: z
      .string()
      .url()
      .default('redis://127.0.0.1:6379')
      .describe('Redis URL (redis:// or rediss://); standalone mode only'),
    password: z.string().optional().describe('Password of the data nodes; overrides the one in the URL'),
    username: z.string().optional().describe('ACL user of the data nodes (default: the default user)'),
    tls: z.boolean().default(false).describe('TLS to the data nodes (always on for a rediss:// URL)'),
    prefix: z
      .string()
      .regex(
        /^\{[A-Za-z0-9_.-]+\}[A-Za-z0-9_.:-]*$/,
        'must start with a hash tag such as {reaper}: BullMQ scripts, flows and MULTI touch several keys at once, which Redis Cluster allows only within one slot (CROSSSLOT otherwise), and the hash tag puts every key in one',
      )
      .default('{reaper}')
      .describe('Key prefix; the hash tag keeps every key in one Redis Cluster slot'),
    startupTimeoutMs: positive(
      30_000,
      'Start-up check: how long to wait for Redis (or a sentinel) to answer before giving up',
    ),
    sentinel: z
      .object({
        sentinels: addressList('Sentinel addresses (host:port), at least one in sentinel mode'),
        masterName: z
          .string()
          .min(1)
          .default('reaper')
          .describe('Name the sentinels monitor the primary under'),
        password: z.string().optional().describe('Password of the sentinels (sentinel requirepass)'),
        tls: z.boolean().default(false).describe('TLS to the sentinels'),
      })
      .strict()
      .prefault({}),
    cluster: z
      .object({
        nodes: addressList(
          'Seed nodes of the Redis Cluster (host:port), at least one in cluster mode; the others are discovered',
        ),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((redis, ctx) => {
    if (redis.mode === 'cluster' && redis.cluster.nodes.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'nodes'],
        message: 'at least one seed node (host:port) is required when redis.mode is cluster',
      });
    if (redis.mode === 'sentinel' && redis.sentinel.sentinels.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['sentinel', 'sentinels'],
        message: 'at least one sentinel (host:port) is required when redis.mode is sentinel',
      });
  })
  .prefault({});

export type RedisConfig = z.infer<typeof RedisConfig>;

export const ConfigSchema = z
  .object({
    redis: RedisConfig,
    kubernetes: z
      .object({
        kubeconfig: z
          .string()
          .optional()
          .describe(
            'Path of a kubeconfig (or a : list); default $KUBECONFIG, then ~/.kube/config, then in-cluster',
          ),
        maxSockets: positive(64, 'Concurrent connections to the API server'),
        requestTimeoutMs: positive(30_000, 'Timeout of one API request'),
        attempts: positive(5, 'Attempts for an API call that fails with a transient error'),
        backoffMs: positive(200, 'First delay between those attempts (doubles each time)'),
      })
      .strict()
      .prefault({}),
    queues: z
      .object({
        concurrency: z
          .object({
            reconcileReaperPod: positive(16, 'Parallel ReaperPod reconciles per scheduler'),
            reconcileOverlay: positive(4, 'Parallel ReaperOverlay reconciles per scheduler'),
            reconcileDaemonJob: positive(4, 'Parallel ReaperDaemonJob reconciles per scheduler'),
            runs: positive(8, 'Parallel DaemonJob run parents settled per scheduler'),
            nodeRuns: positive(64, 'Parallel DaemonJob node-run steps per scheduler'),
            overlayNode: positive(2, 'Parallel overlay operations per node agent'),
          })
          .strict()
          .prefault({}),
        reconcileAttempts: positive(5, 'Tries of a reconcile that fails with a transient error'),
        reconcileBackoffMs: positive(500, 'First delay between those tries (exponential)'),
        failedRequeueMs: positive(60_000, 'Reconcile again after this long when every try failed'),
        stalled: z
          .object({
            intervalMs: positive(30_000, 'How often workers look for jobs whose worker died'),
            maxCount: z.number().int().min(0).default(1).describe('Times a job may stall before it fails'),
            lockDurationMs: positive(30_000, 'Lock of an active job; renewed at half this'),
          })
          .strict()
          .prefault({}),
        retention: z
          .object({
            removeOnComplete: z.number().int().min(0).default(1000).describe('Completed jobs kept per queue'),
            removeOnFail: z.number().int().min(0).default(5000).describe('Failed jobs kept per queue'),
            eventLogMaxLen: positive(100_000, 'Entries kept in each event stream (approximate trim)'),
            deletedJobLogSeconds: positive(
              86_400,
              "Seconds a deleted DaemonJob's history (its event log) stays readable",
            ),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    retry: BackoffConfig.prefault({}).describe('Backoff between DaemonJob per-node retries'),
    status: z
      .object({
        coalesceMs: ms(
          1000,
          'DaemonJob status: no write within this of the last but a phase change (the final state is always written); progress alone waits for a batch of settled node-runs or 5 intervals',
        ),
        maxNodeStatuses: positive(100, 'Entries kept in status.nodeStatuses; counts stay exact'),
      })
      .strict()
      .prefault({}),
    rollout: z
      .object({
        podCreatesPerSecond: positive(200, 'ReaperPod creations per second per scheduler'),
        maxNodesInFlight: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('Nodes of one DaemonJob running at once (0 = no limit)'),
      })
      .strict()
      .prefault({}),
    watcher: z
      .object({
        resyncIntervalMs: positive(300_000, 'Re-enqueue every known object this often (safety net)'),
        leaseNamespace: z.string().default('kube-system').describe('Namespace of the leader Lease'),
        leaseName: z.string().default('reaper-flow-watcher').describe('Name of the leader Lease'),
        leaseDurationMs: positive(15_000, 'A standby takes over this long after the leader stops renewing'),
        renewIntervalMs: positive(5_000, 'How often the leader renews the Lease'),
      })
      .strict()
      .prefault({}),
    dashboard: z
      .object({
        enabled: z.boolean().default(true).describe('Serve Bull Board from the scheduler'),
        port: z.number().int().min(0).max(65535).default(3000).describe('Dashboard HTTP port'),
        host: z.string().default('127.0.0.1').describe('Dashboard bind address'),
        username: z.string().default('admin').describe('Basic-auth user'),
        password: z
          .string()
          .optional()
          .describe('Basic-auth password; the dashboard refuses to start without one'),
        token: z.string().optional().describe('Bearer token accepted instead of basic auth'),
        readOnly: z
          .boolean()
          .default(false)
          .describe('Hide retry/remove/clean actions (write endpoints answer 405)'),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(9090)
          .describe('Port of /metrics, /livez and /readyz'),
        host: z.string().default('127.0.0.1').describe('Bind address of the metrics server'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info')
          .describe('Log level (changes at run time)'),
      })
      .strict()
      .prefault({}),
    nodeAgent: z
      .object({
        nodeName: z.string().optional().describe('The node this agent serves (NODE_NAME)'),
        stateDir: z.string().default('/run/reaper').describe('Root of the Reaper runtime state on the node'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Keys whose new value is applied without a restart when the mounted file changes. */
export const RELOADABLE_KEYS = [
  'retry',
  'status.coalesceMs',
  'rollout.podCreatesPerSecond',
  'rollout.maxNodesInFlight',
  'log.level',
] as const;
