import { ApiError, type KubeClient, type ResourceRef } from '@reaper-flow/k8s';
import type { Logger } from './log';

interface Meta {
  metadata: { uid?: string; name: string; namespace?: string; resourceVersion?: string };
}

export interface WatchHandler<T> {
  /** The object exists in this state (initial list, ADDED, MODIFIED, or seen again on a re-list). */
  upsert(obj: T): void;
  /** The object is gone (DELETED, or missing from a re-list). */
  remove(obj: T): void;
}

/**
 * List-then-watch loop with resourceVersion tracking (a minimal informer). Re-lists when the watch
 * fails with 410 Gone or its stream ends, and turns objects that vanished meanwhile into `remove`
 * calls, so the handler stays level-triggered across gaps. Resolves `synced` after the first list.
 * Runs until `signal` aborts.
 */
export function runWatch<T extends Meta>(
  client: KubeClient,
  ref: ResourceRef,
  handler: WatchHandler<T>,
  opts: { signal: AbortSignal; log: Logger; labelSelector?: string },
): { synced: Promise<void>; done: Promise<void> } {
  let markSynced: () => void = () => {};
  let failSync: (err: unknown) => void = () => {};
  const synced = new Promise<void>((resolve, reject) => {
    markSynced = resolve;
    failSync = reject;
  });
  const known = new Map<string, T>();
  const key = (o: T) => o.metadata.uid ?? `${o.metadata.namespace}/${o.metadata.name}`;

  const loop = async (): Promise<void> => {
    let first = true;
    let failures = 0;
    while (!opts.signal.aborted) {
      try {
        const list = await client.listAll<T>(ref, { labelSelector: opts.labelSelector });
        const seen = new Set(list.items.map(key));
        for (const [k, old] of known) {
          if (!seen.has(k)) {
            known.delete(k);
            handler.remove(old);
          }
        }
        for (const item of list.items) {
          known.set(key(item), item);
          handler.upsert(item);
        }
        if (first) {
          first = false;
          markSynced();
        }
        let resourceVersion = list.metadata.resourceVersion;
        for await (const event of client.watch<T>(ref, {
          labelSelector: opts.labelSelector,
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: 300,
          signal: opts.signal,
        })) {
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
          failures = 0;
          if (event.type === 'BOOKMARK') continue;
          if (event.type === 'DELETED') {
            known.delete(key(event.object));
            handler.remove(event.object);
          } else {
            known.set(key(event.object), event.object);
            handler.upsert(event.object);
          }
        }
      } catch (err) {
        if (opts.signal.aborted) return;
        if (first) {
          failSync(err);
          return;
        }
        if (err instanceof ApiError && err.code === 'Gone') continue;
        failures++;
        opts.log(`watch ${ref.plural} failed (${(err as Error).message}); re-listing`);
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** failures, 5000)));
      }
    }
  };
  return { synced, done: loop() };
}
