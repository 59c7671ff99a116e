import { setTimeout as delay } from 'node:timers/promises';
import { errorCode, ReaperError } from '@reaper-flow/domain';
import {
  type Change,
  type ChangeContext,
  Informer,
  type InformerKube,
  type InformerState,
  type ResourceRef,
  Resources,
} from '@reaper-flow/k8s';
import {
  isRedisConnectionError,
  type OverlayResetRequests,
  type ReconcileKind,
  type ReconcileQueue,
  type RedisHealth,
  type WatchRecord,
  type WorldStore,
} from '@reaper-flow/queue';
import type { Logger, Metrics } from '@reaper-flow/runtime';
import { z } from 'zod';
import { type MapperCaches, mapChange, nodeChanged, type WatchedKind } from './mapper';
import { toWorldObject, type WatchedObject } from './projection';

/** Label the scheduler puts on the Pods it creates for ReaperPods. */
export const MANAGED_BY_SELECTOR = 'app.kubernetes.io/managed-by=reaper-flow';

interface WatchedResource {
  readonly kind: WatchedKind;
  readonly resource: ResourceRef;
  readonly labelSelector?: string;
}

/** What the watcher watches, all namespaces. */
export const WATCHED: readonly WatchedResource[] = [
  { kind: 'ReaperPod', resource: Resources.reaperPods },
  { kind: 'ReaperOverlay', resource: Resources.reaperOverlays },
  { kind: 'ReaperDaemonJob', resource: Resources.reaperDaemonJobs },
  { kind: 'Pod', resource: Resources.pods, labelSelector: MANAGED_BY_SELECTOR },
  { kind: 'Node', resource: Resources.nodes },
];

// Objects read back from Redis are parsed: the minimum an informer cache needs.
const Stored = z.looseObject({
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
  }),
});

export interface PipelineDeps {
  readonly kube: InformerKube;
  readonly world: WorldStore;
  readonly overlayResetRequests: OverlayResetRequests;
  readonly queues: ReadonlyMap<ReconcileKind, ReconcileQueue>;
  /** The process's Redis health: a change seen while Redis is away waits for it to come back. */
  readonly redisHealth: RedisHealth;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly resyncIntervalMs: number;
  /** Checked before every write: a process that lost the lease stops writing at once. */
  readonly isLeader: () => boolean;
  /**
   * While a slow renewal is in flight `isLeader` is false but the term may go on: resolves true once
   * it is confirmed, false once it is over. Default: not leading is final.
   */
  readonly leadershipConfirmed?: ((signal: AbortSignal) => Promise<boolean>) | undefined;
  /** Wakes a parked DaemonJob node-run (its ReaperPod changed). */
  readonly wakeNodeRun: (namespace: string, job: string, runId: string, node: string) => Promise<unknown>;
}

/** The informers of one leadership term. */
export interface Pipeline {
  stop(): Promise<void>;
  /** Every informer has completed its first list. */
  synced(): boolean;
  /** The oldest `lastEventAt` of the informers: a watch that went silent shows here. */
  lastEventAt(): number;
  states(): Record<WatchedKind, InformerState>;
}

class NotLeaderError extends ReaperError {
  readonly code = 'watcher.NotLeader';
  readonly terminal = false;
}

/**
 * Starts one informer per watched kind, resumed from the world stored in Redis.
 *
 * Restart strategy (a new process or a new leadership term): each informer's cache is the stored
 * world, and it watches from the resourceVersion stored with it (one MULTI writes both, so they
 * match). The watch replays whatever changed since, deletions included, without listing anything:
 * a leader that lost its lease and won it back, or a restarted watcher, costs no list of the
 * cluster's objects. When that version is outside the API server's watch window (410 Gone, after a
 * long outage) or nothing is stored yet, the informer lists and diffs against the stored world,
 * which emits exactly what was missed; a crash in the middle of that diff leaves a partly updated
 * world and the next start's diff emits the rest.
 *
 * Each change is handled in order: (a) world store (object, event log entry, resourceVersion, one
 * MULTI); (b) overlay reset requests; (c) reconcile keys enqueued (those of a Pod whose ReaperPod
 * the cache lacks only if the world still holds it); (d) parked node-runs woken. The informer awaits all of it
 * before it acknowledges the change, so a failure re-delivers it (at-least-once). A crash between (a)
 * and (c) is covered by the SYNC pass once each informer has synced (listed, or resumed from the
 * stored world), which enqueues every object.
 */
export async function startPipeline(deps: PipelineDeps): Promise<Pipeline> {
  const informers = new Map<WatchedKind, Informer<WatchedObject>>();
  const cacheOf = (kind: WatchedKind) => informers.get(kind)?.list() ?? [];
  const caches: MapperCaches = {
    get reaperPods() {
      return cacheOf('ReaperPod');
    },
    get reaperOverlays() {
      return cacheOf('ReaperOverlay');
    },
    get reaperDaemonJobs() {
      return cacheOf('ReaperDaemonJob');
    },
    hasReaperPod: (namespace, name) => informers.get('ReaperPod')?.get(namespace, name) !== undefined,
  };

  const stopping = new AbortController();

  /**
   * Runs `step`, and while Redis is unavailable holds it and runs it again once Redis is back. The
   * informer delivers changes one at a time, so the ones behind a held change wait too, and each is
   * written once Redis is back, in order, without the informer's backoff (seconds) or an error line
   * per attempt. Every step is idempotent, so repeating a half-done one is harmless. Any other
   * error fails the step: the informer re-delivers the change.
   */
  const holdingForRedis = async <T>(step: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        const outage = !deps.redisHealth.up || isRedisConnectionError(err);
        if (!outage || stopping.signal.aborted) throw err;
        await deps.redisHealth.whenUp(stopping.signal);
        // Up again but the command still failed (a connection not back yet): a moment, not a spin.
        await delay(100, undefined, { signal: stopping.signal }).catch(() => undefined);
        if (stopping.signal.aborted) throw err;
      }
    }
  };

  const handle = (kind: WatchedKind, change: Change<WatchedObject>, ctx: ChangeContext) => {
    deps.metrics.watchEvents.inc({ kind, type: change.type });
    // When it was seen, not when it could be written: a change held for Redis shows its real lag.
    const seenAt = Date.now();
    return holdingForRedis(() => handleOnce(kind, change, ctx, seenAt));
  };

  const handleOnce = async (
    kind: WatchedKind,
    change: Change<WatchedObject>,
    ctx: ChangeContext,
    seenAt: number,
  ) => {
    if (!deps.isLeader() && !(await deps.leadershipConfirmed?.(stopping.signal))) {
      throw new NotLeaderError(`not the leader: ${kind} change not handled`);
    }
    const { metadata } = change.object;
    const record: WatchRecord = {
      type: change.type,
      kind,
      namespace: metadata.namespace ?? '',
      name: metadata.name,
      uid: metadata.uid ?? '',
      resourceVersion: metadata.resourceVersion ?? '',
      seenAt,
    };
    // Only a watch event's own version is safe to persist as "everything before it is stored"; during
    // a list diff or resync the version reached before stays, and on a first list (none reached yet)
    // none is written: a start resumes from the stored version, so one written in the middle of a
    // diff would skip the objects not diffed yet.
    const checkpoint = ctx.source === 'watch' ? undefined : (ctx.resourceVersion ?? null);
    await deps.world.apply(record, change.type === 'DELETED' ? undefined : change.object, checkpoint, {
      bumpRevision: nodeChanged({ kind, ...change }),
    });
    const mapping = mapChange({ kind, ...change }, caches);
    for (const reset of mapping.overlayResets) {
      await deps.overlayResetRequests.add(reset.namespace, reset.overlay, reset.request);
    }
    // A metric label, never a branch: the reconcile re-reads the world whatever asked for it.
    const cause = `${kind} ${change.type}`;
    const skipped = [...mapping.skipped];
    const keys = [...mapping.keys];
    // The world, not the cache, says whether the ReaperPod is gone (see the mapper's podOwnerKeys).
    for (const key of mapping.keysIfInWorld) {
      if (await deps.world.has(key.kind, key.namespace, key.name)) keys.push(key);
      else skipped.push({ key, reason: 'reaperpod-gone' });
    }
    await Promise.all(
      keys.map((key) => {
        const queue = deps.queues.get(key.kind);
        if (!queue) throw new Error(`no queue for ${key.kind}`);
        return queue.enqueue(key, seenAt, cause);
      }),
    );
    // Counted once the requests are in: a change re-delivered after a failure is counted again.
    for (const key of keys) deps.metrics.reconcileRequests.inc({ kind: key.kind, cause });
    for (const { key, reason } of skipped) deps.metrics.reconcileSkips.inc({ kind: key.kind, cause, reason });
    // After the world is updated: the woken node-run reads the ReaperPod from it.
    for (const w of mapping.wakes) await deps.wakeNodeRun(w.namespace, w.job, w.runId, w.node);
  };

  for (const watched of WATCHED) {
    const log = deps.logger.child({ kind: watched.kind });
    const [resourceVersion, stored] = await Promise.all([
      deps.world.loadResourceVersion(watched.kind),
      deps.world.listAll<unknown>(watched.kind),
    ]);
    const initialCache: WatchedObject[] = [];
    for (const raw of stored) {
      const parsed = Stored.safeParse(raw);
      if (parsed.success) initialCache.push(parsed.data as WatchedObject);
      else log.warn({ issues: parsed.error.issues }, 'ignoring an unreadable object in the stored world');
    }
    log.info(
      { resourceVersion, stored: initialCache.length },
      resourceVersion === undefined
        ? 'starting informer: list, diff with stored world'
        : 'starting informer: watch from the stored resourceVersion',
    );
    informers.set(
      watched.kind,
      new Informer<WatchedObject>({
        kube: deps.kube,
        resource: watched.resource,
        labelSelector: watched.labelSelector,
        initialCache,
        resourceVersion,
        // Resume from the stored version when there is one (410 Gone falls back to list + diff).
        listFirst: resourceVersion === undefined,
        transform: (o) => toWorldObject(watched.kind, o),
        resyncIntervalMs: deps.resyncIntervalMs,
        handler: (change, ctx) => handle(watched.kind, change, ctx),
        onCheckpoint: (rv) => holdingForRedis(() => deps.world.saveResourceVersion(watched.kind, rv)),
        onStateChange: (state, err) => log.info({ state, err }, 'informer state'),
        onError: (err, state) => {
          // A Redis outage is reported once, by the process's RedisHealth.
          const outage = !deps.redisHealth.up || isRedisConnectionError(err);
          log[outage ? 'debug' : 'warn']({ err, state }, 'informer error (retrying)');
        },
      }),
    );
  }

  for (const [kind, informer] of informers) {
    informer.start();
    informer
      .whenSynced()
      .then(() => informer.resync())
      .catch((err: unknown) => {
        if (errorCode(err) !== 'informer.Stopped') deps.logger.warn({ err, kind }, 'startup resync failed');
      });
  }

  const all = () => [...informers.values()];
  return {
    async stop() {
      // A change held for Redis gives up first, unacknowledged: the next term delivers it again.
      stopping.abort();
      await Promise.all(all().map((i) => i.stop()));
    },
    synced: () => all().every((i) => i.synced),
    lastEventAt: () => Math.min(...all().map((i) => i.lastEventAt)),
    states: () =>
      Object.fromEntries([...informers].map(([kind, i]) => [kind, i.state])) as Record<
        WatchedKind,
        InformerState
      >,
  };
}
