// Node-join latency: a node turns Ready -> the ReaperPod of a NodeReady job is created for it; and
// reboot (new bootID) -> a new run's ReaperPod is created. Joins and reboots one at a time.
import { rebootNode } from '@reaper-flow/local-cluster';
import { addNodes, applyJob, type Ctx, deleteJobs, firstEvent, LABEL_GROUP, nodeName, quiesce } from '../ops';
import { progress } from '../progress';
import { type Summary, summarize } from '../stats';

interface JoinSample {
  readonly node: string;
  /** Node event with Ready=True -> ReaperPod ADDED. */
  readonly fromReadyMs: number;
  /**
   * Node event that made it a target: Ready and without the API server's not-ready NoSchedule taint
   * (which addNode removes in a second write) -> ReaperPod ADDED.
   */
  readonly fromSchedulableMs: number;
}

export interface NodeJoinResult {
  readonly joins: JoinSample[];
  readonly fromReady: Summary;
  readonly fromSchedulable: Summary;
  readonly reboots: JoinSample[];
  readonly rebootFromReady: Summary;
  readonly rebootFromSchedulable: Summary;
}

const JOB = 'node-join';

export async function runNodeJoin(
  ctx: Ctx,
  opts: { joins: number; reboots: number },
): Promise<NodeJoinResult> {
  progress.begin('node-join', `${opts.joins} joins, then ${opts.reboots} reboots`);
  const group = 'join';
  await applyJob(ctx, JOB, { nodeSelector: { [LABEL_GROUP]: group }, triggerOn: 'NodeReady' });
  await ctx.djobs.until(
    () => ctx.djobs.latest.get(JOB)?.p.observedGeneration === 1,
    `${JOB} reconciled once`,
    60_000,
  );
  const joins: JoinSample[] = [];
  const join = async (i: number) => {
    await quiesce(ctx.redis, ctx.engine.config.redis.prefix);
    const [name = ''] = await addNodes(ctx, group, 1, { start: i });
    const added = await ctx.rpods.until(
      () => firstEvent(ctx.rpods, (e) => e.type === 'ADDED' && e.p.node === name && e.p.job === JOB),
      `the ReaperPod of ${JOB} on ${name}`,
      60_000,
    );
    const ready = firstEvent(ctx.nodes, (e) => e.name === name && e.p.ready);
    const schedulable = firstEvent(ctx.nodes, (e) => e.name === name && e.p.ready && !e.p.notReadyTaint);
    if (!ready || !schedulable) throw new Error(`node events of ${name} missing`);
    joins.push({ node: name, fromReadyMs: added.t - ready.t, fromSchedulableMs: added.t - schedulable.t });
    progress.step(
      `join ${i + 1}/${opts.joins}: ${(added.t - ready.t).toFixed(1)} ms from Ready (${(added.t - schedulable.t).toFixed(1)} ms from untainted)`,
    );
    await ctx.rpods.until(
      () => ctx.rpods.latest.get(added.name)?.p.phase === 'Succeeded',
      `${added.name} Succeeded`,
      60_000,
    );
  };

  const reboots: JoinSample[] = [];
  const reboot = async (i: number) => {
    await quiesce(ctx.redis, ctx.engine.config.redis.prefix);
    const name = nodeName(ctx, group, i);
    const before = [...ctx.rpods.latest.values()].find((r) => r.p.node === name && r.p.job === JOB);
    const mark = ctx.nodes.events.length;
    const markRpods = ctx.rpods.events.length;
    const { bootID } = await rebootNode(ctx.client, name, { downMs: 1000 });
    const added = await ctx.rpods.until(
      () =>
        ctx.rpods.events
          .slice(markRpods)
          .find(
            (e) =>
              e.type === 'ADDED' && e.p.node === name && e.p.job === JOB && e.p.runId !== before?.p.runId,
          ),
      `a new run's ReaperPod on ${name} after its reboot`,
      60_000,
    );
    const after = ctx.nodes.events.slice(mark);
    const ready = after.find((e) => e.name === name && e.p.ready && e.p.bootId === bootID);
    const schedulable = after.find(
      (e) => e.name === name && e.p.ready && !e.p.notReadyTaint && e.p.bootId === bootID,
    );
    if (!ready || !schedulable) throw new Error(`node events of ${name}'s reboot missing`);
    reboots.push({ node: name, fromReadyMs: added.t - ready.t, fromSchedulableMs: added.t - schedulable.t });
    progress.step(
      `reboot ${i + 1}/${opts.reboots}: ${(added.t - ready.t).toFixed(1)} ms from Ready with the new bootID`,
    );
    await ctx.rpods.until(
      () => ctx.rpods.latest.get(added.name)?.p.phase === 'Succeeded',
      `${added.name} Succeeded`,
      60_000,
    );
  };

  for (let i = 0; i < opts.joins; i++) {
    await join(i).catch((err: Error) => ctx.warn(`node join ${i + 1}: ${err.message}`));
  }
  for (let i = 0; i < Math.min(opts.reboots, joins.length); i++) {
    await reboot(i).catch((err: Error) => ctx.warn(`node reboot ${i + 1}: ${err.message}`));
  }
  await deleteJobs(ctx, [JOB]);
  return {
    joins,
    fromReady: summarize(joins.map((s) => s.fromReadyMs)),
    fromSchedulable: summarize(joins.map((s) => s.fromSchedulableMs)),
    reboots,
    rebootFromReady: summarize(reboots.map((s) => s.fromReadyMs)),
    rebootFromSchedulable: summarize(reboots.map((s) => s.fromSchedulableMs)),
  };
}
