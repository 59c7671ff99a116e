// The bench's own watches: every event is stamped (performance.now()) when the informer delivers it,
// so latencies are measured as a client of the API server sees them, independent of reaper-flow's
// own bookkeeping. Objects are kept in a compact projection.
import {
  type Change,
  type ChangeContext,
  Informer,
  type KubeClient,
  type ResourceRef,
} from '@reaper-flow/k8s';

export interface Recorded<P> {
  /** performance.now() when the watch delivered the event. */
  readonly t: number;
  readonly type: 'SYNC' | 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly name: string;
  readonly uid: string;
  readonly p: P;
}

interface RawObject {
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    generation?: number;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

interface Waiter {
  check: () => boolean;
}

/**
 * The informer (packages/k8s) on one resource (optionally one namespace / label selector), keeping
 * every change and the latest projection per name. What a (re-)list finds is recorded as SYNC (it is
 * state, not an event seen when it happened), deletions found by a re-list as DELETED. Waiters are
 * re-checked after every change, so a wait returns in the same tick the deciding event arrives.
 */
export class Watched<P> {
  readonly events: Recorded<P>[] = [];
  readonly latest = new Map<string, Recorded<P>>();
  private readonly waiters = new Set<Waiter>();
  private readonly informer: Informer<RawObject>;
  /** Gaps: the watch had to re-list (410 Gone or an error); events in between may be missing. */
  relists = 0;

  constructor(
    client: KubeClient,
    ref: ResourceRef,
    private readonly project: (obj: RawObject) => P,
    opts: { namespace?: string; labelSelector?: string; log: (m: string) => void },
  ) {
    let listed = false;
    this.informer = new Informer<RawObject>({
      kube: client,
      resource: ref,
      namespace: opts.namespace,
      labelSelector: opts.labelSelector,
      handler: async (change, ctx) => this.record(change, ctx),
      onStateChange: (state) => {
        if (state !== 'Listing') return;
        if (listed) this.relists++;
        listed = true;
      },
      onError: (err) => opts.log(`bench watch ${ref.plural} broke (${(err as Error).message}); re-listing`),
    });
  }

  /** Lists, then watches in the background; resolves once the list is in (rejects if it fails). */
  async start(): Promise<void> {
    this.informer.start();
    try {
      await this.informer.whenSynced({ failOnError: true });
    } catch (err) {
      await this.informer.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  private record(change: Change<RawObject>, ctx: ChangeContext): void {
    const type = ctx.source === 'watch' || change.type === 'DELETED' ? change.type : 'SYNC';
    const obj = change.object;
    const entry: Recorded<P> = {
      t: performance.now(),
      type,
      name: obj.metadata.name,
      uid: obj.metadata.uid ?? '',
      p: this.project(obj),
    };
    this.events.push(entry);
    this.latest.set(entry.name, entry);
    for (const w of [...this.waiters]) {
      if (w.check()) this.waiters.delete(w);
    }
  }

  /** Live (not deleted) objects, latest projection. */
  live(): Recorded<P>[] {
    return [...this.latest.values()].filter((e) => e.type !== 'DELETED');
  }

  /**
   * Resolves with the first truthy value of `fn`, evaluated now and after each event; rejects after
   * `timeoutMs` with `what` and the last value in the message.
   */
  until<R>(fn: () => R | undefined | false, what: string, timeoutMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const first = fn();
      if (first) {
        resolve(first);
        return;
      }
      const waiter: Waiter = {
        check: () => {
          const v = fn();
          if (!v) return false;
          clearTimeout(timer);
          resolve(v);
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Drops recorded events (not the latest state), e.g. between fan-out sizes, to bound memory. */
  forgetEvents(): void {
    this.events.length = 0;
  }
}

export interface RpodView {
  readonly phase: string | undefined;
  readonly node: string | undefined;
  readonly job: string | undefined;
  readonly runId: string | undefined;
  readonly attempt: number | undefined;
  readonly deleting: boolean;
}

export interface DjobView {
  readonly phase: string | undefined;
  readonly readyNodes: number | undefined;
  readonly totalNodes: number | undefined;
  readonly failedNodes: number | undefined;
  readonly generation: number | undefined;
  readonly observedGeneration: number | undefined;
}

export interface NodeView {
  readonly ready: boolean;
  /** The API server's node.kubernetes.io/not-ready taint is on: not a target yet. */
  readonly notReadyTaint: boolean;
  readonly bootId: string | undefined;
}

export const projectRpod = (o: RawObject): RpodView => {
  const attempt = Number(o.metadata.annotations?.['reaper.io/attempt']);
  return {
    phase: o.status?.phase as string | undefined,
    node: o.spec?.nodeName as string | undefined,
    job: o.metadata.labels?.['reaper.io/daemon-job'],
    runId: o.metadata.annotations?.['reaper.io/run-id'],
    attempt: Number.isFinite(attempt) ? attempt : undefined,
    deleting: !!o.metadata.deletionTimestamp,
  };
};

export const projectDjob = (o: RawObject): DjobView => ({
  phase: o.status?.phase as string | undefined,
  readyNodes: o.status?.readyNodes as number | undefined,
  totalNodes: o.status?.totalNodes as number | undefined,
  failedNodes: o.status?.failedNodes as number | undefined,
  generation: o.metadata.generation,
  observedGeneration: o.status?.observedGeneration as number | undefined,
});

export interface PodView {
  readonly phase: string | undefined;
}

export const projectPod = (o: RawObject): PodView => ({ phase: o.status?.phase as string | undefined });

export const projectNode = (o: RawObject): NodeView => {
  const conditions = (o.status?.conditions ?? []) as { type: string; status: string }[];
  const taints = (o.spec?.taints ?? []) as { key: string; effect: string }[];
  return {
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    notReadyTaint: taints.some((t) => t.key === 'node.kubernetes.io/not-ready' && t.effect === 'NoSchedule'),
    bootId: (o.status?.nodeInfo as { bootID?: string } | undefined)?.bootID,
  };
};
