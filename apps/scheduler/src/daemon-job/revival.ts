import { isPersisted, parseReaperDaemonJob } from '@reaper-flow/domain';
import { NodeRunDataSchema } from '@reaper-flow/queue';
import type { Job } from 'bullmq';
import type { NodeRunDeps } from './node-run';

/**
 * No number of crashes may lose a node-run. BullMQ moves a step that stalled more than
 * `stalled.maxCount` times (the scheduler killed while it ran, twice) or whose step kept throwing
 * (the API server away longer than its step attempts) to `failed`, and nothing would run it again.
 * The job's own state says whether that node-run still matters: if its run still owns the node (the
 * run index the reconcile saves), the step is put back to work where its data says it was; if not,
 * it is removed and its rollout slot released. Every step is idempotent, so a revived
 * step never repeats an attempt. Called for each final failure, and for every failed step at start
 * and on the watchdog interval (a scheduler killed between the failure and the revival).
 */
export async function reviveNodeRun(
  deps: NodeRunDeps,
  job: Job,
): Promise<'revived' | 'superseded' | 'invalid'> {
  const parsed = NodeRunDataSchema.safeParse(job.data);
  // Garbage (not a node-run this engine wrote): its failure was logged once; it stays failed for
  // an operator to see, and is never revived.
  if (!parsed.success) return 'invalid';
  const data = parsed.data;
  const { ctx, store, flows, slots } = deps;
  const raw = await ctx.world.get<unknown>('ReaperDaemonJob', data.namespace, data.job);
  const owner = raw === undefined ? undefined : parseReaperDaemonJob(raw);
  const current = await store.currentRun(data.namespace, data.job, data.node);
  const live =
    owner?.ok === true &&
    isPersisted(owner.value) &&
    owner.value.metadata.uid === data.jobUid &&
    current === data.runId;
  if (!live) {
    await slots.release(data.namespace, data.job, `${data.runId}|${data.node}`);
    await job.remove().catch(() => undefined);
    return 'superseded';
  }
  return (await flows.revive(job)) ? 'revived' : 'superseded';
}

/** Revives every failed node-run step whose run still owns its node (see reviveNodeRun). */
export async function reviveFailedNodeRuns(deps: NodeRunDeps): Promise<number> {
  let revived = 0;
  for (const job of await deps.flows.failedNodeRuns()) {
    if ((await reviveNodeRun(deps, job)) === 'revived') revived += 1;
  }
  return revived;
}
