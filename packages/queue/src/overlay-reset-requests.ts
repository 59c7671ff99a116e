import { formatResetRequest, type ResetRequest } from '@reaper-flow/domain';
import { RedisKeys } from './names';
import type { RedisClient } from './redis';

/**
 * Each overlay's pending per-node reset requests (resetPolicy OnFailure/OnDelete), a Redis set per
 * overlay. Writers add (the watcher for deleted workloads, the ReaperPod reconcile for failed ones);
 * the overlay reconcile reads them, enqueues the node jobs, and only then removes what it acted on,
 * so a crash in between re-enqueues the same deterministic job ids. A request is stored in the
 * domain's form (formatResetRequest), so a repeated request is one member.
 */
export class OverlayResetRequests {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(namespace: string, overlay: string): string {
    return RedisKeys.overlayResetRequests(this.prefix, namespace, overlay);
  }

  async add(namespace: string, overlay: string, request: ResetRequest): Promise<void> {
    await this.redis.sadd(this.key(namespace, overlay), formatResetRequest(request));
  }

  /** The stored members, for the domain's decideOverlay (it parses them). */
  async list(namespace: string, overlay: string): Promise<string[]> {
    return this.redis.smembers(this.key(namespace, overlay));
  }

  /** Removes members decideOverlay acted on or found moot. */
  async remove(namespace: string, overlay: string, members: readonly string[]): Promise<void> {
    if (members.length > 0) await this.redis.srem(this.key(namespace, overlay), ...members);
  }

  /** The overlay is gone: its pending requests have nothing left to reset. */
  async clear(namespace: string, overlay: string): Promise<void> {
    await this.redis.del(this.key(namespace, overlay));
  }
}
