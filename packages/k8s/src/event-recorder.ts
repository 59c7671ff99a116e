import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { formatTime } from '@reaper-flow/domain';
import type { KubeClient } from './client';
import { isApiError, isNamespaceTerminating } from './errors';
import { Resources } from './resources';

/** The object an Event is about (core/v1 ObjectReference); uid ties it to one incarnation. */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

export type EventType = 'Normal' | 'Warning';

/** What the recorder logs when an Event cannot be written (a pino logger fits). */
export interface EventRecorderLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface EventRecorderOptions {
  /** `source.component` and `reportingComponent`, e.g. "reaper-flow-scheduler". */
  readonly component: string;
  /** `source.host` / `reportingInstance`; default the host name. */
  readonly host?: string | undefined;
  readonly logger?: EventRecorderLogger | undefined;
  /** The same object+type+reason+message within this window bumps count on one Event. Default 10 min. */
  readonly aggregateWindowMs?: number | undefined;
  /** Most aggregation entries remembered (oldest dropped first). Default 4096. */
  readonly maxEntries?: number | undefined;
  /** Clock, for tests. */
  readonly now?: (() => Date) | undefined;
}

interface Aggregate {
  readonly name: string;
  readonly namespace: string;
  count: number;
  lastMs: number;
}

/** core/v1 Event messages are cut here, like client-go does, so a long message cannot be refused. */
const MAX_MESSAGE = 1024;

/**
 * Writes core/v1 Events, like client-go's EventRecorder with its simple aggregation: a repeat of
 * the same object+type+reason+message within the window PATCHes `count` and `lastTimestamp` of the
 * Event already written instead of creating another one.
 *
 * Events are best effort: `record` never throws and never rejects. A failure is logged and the
 * Event dropped, because a reconcile must not fail (and be retried, repeating its side effects)
 * only because its Event could not be written. Records of one key are serialized, so two
 * reconciles reporting the same fact at once make one Event with count 2, not two Events.
 */
export class EventRecorder {
  private readonly recent = new Map<string, Aggregate>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly host: string;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => Date;

  constructor(
    private readonly client: Pick<KubeClient, 'create' | 'patch'>,
    private readonly opts: EventRecorderOptions,
  ) {
    this.host = opts.host ?? hostname();
    this.windowMs = opts.aggregateWindowMs ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 4096;
    this.now = opts.now ?? (() => new Date());
  }

  /** Records an Event about `obj`; resolves when written (or dropped). Never rejects. */
  record(obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
    const key = [obj.uid ?? `${obj.kind}/${obj.namespace ?? ''}/${obj.name}`, type, reason, text].join(
      '\u0000',
    );
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.write(key, obj, type, reason, text))
      .catch((err: unknown) => {
        // An Event about an object whose namespace is going away cannot be written and is of no use.
        const namespaceGone = isApiError(err, 'NotFound') || isNamespaceTerminating(err);
        this.opts.logger?.[namespaceGone ? 'debug' : 'warn'](
          { err, involvedObject: `${obj.kind}/${obj.namespace ?? ''}/${obj.name}`, reason },
          'could not record an Event; dropped (Events are best effort)',
        );
      });
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  private async write(
    key: string,
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const now = this.now();
    const nowMs = now.getTime();
    const seen = this.recent.get(key);
    if (seen && nowMs - seen.lastMs <= this.windowMs) {
      try {
        await this.client.patch(
          Resources.events,
          seen.name,
          'merge',
          { count: seen.count + 1, lastTimestamp: formatTime(now) },
          { namespace: seen.namespace },
        );
        seen.count += 1;
        seen.lastMs = nowMs;
        this.touch(key, seen);
        return;
      } catch (err) {
        // The Event expired (the API server's event TTL) or was deleted: start a new one.
        if (!isApiError(err, 'NotFound')) throw err;
      }
    }
    // Cluster-scoped objects (Nodes) get their Events in "default", as client-go does.
    const namespace = obj.namespace || 'default';
    const name = `${obj.name}.${nowMs.toString(16)}${randomBytes(3).toString('hex')}`;
    await this.client.create(
      Resources.events,
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.name,
          ...(obj.namespace ? { namespace: obj.namespace } : {}),
          ...(obj.uid ? { uid: obj.uid } : {}),
          ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}),
        },
        reason,
        message,
        type,
        source: { component: this.opts.component, host: this.host },
        reportingComponent: this.opts.component,
        reportingInstance: this.host,
        firstTimestamp: formatTime(now),
        lastTimestamp: formatTime(now),
        count: 1,
      },
      { namespace },
    );
    this.touch(key, { name, namespace, count: 1, lastMs: nowMs });
  }

  /** Re-inserts `key` as the newest entry and drops the oldest past the limit. */
  private touch(key: string, value: Aggregate): void {
    this.recent.delete(key);
    this.recent.set(key, value);
    while (this.recent.size > this.maxEntries) {
      const oldest = this.recent.keys().next().value;
      if (oldest === undefined) break;
      this.recent.delete(oldest);
    }
  }
}
