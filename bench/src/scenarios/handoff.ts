// Handoff latency: a dependency reaches Completed -> the first ReaperPod of its dependent is created.
// A three-stage chain a -> b -> c on `nodes` nodes, fresh jobs each repetition (two handoffs each).
import { addNodes, applyJob, type Ctx, deleteJobs, firstEvent, LABEL_GROUP, quiesce } from '../ops';
import { progress } from '../progress';
import { type Summary, summarize } from '../stats';

interface HandoffSample {
  readonly rep: number;
  readonly edge: 'a->b' | 'b->c';
  /** Dependency Completed seen on the watch -> dependent's first ReaperPod ADDED on the watch. */
  readonly ms: number;
}

export interface HandoffResult {
  readonly nodes: number;
  readonly reps: number;
  readonly samples: HandoffSample[];
  readonly summary: Summary;
  /** Whole chain: creation of the three jobs -> c Completed, per repetition. */
  readonly chainMs: number[];
}

export async function runHandoff(ctx: Ctx, opts: { nodes: number; reps: number }): Promise<HandoffResult> {
  progress.begin('handoff', `3-stage chain on ${opts.nodes} nodes, ${opts.reps} repetitions`);
  const group = 'handoff';
  await addNodes(ctx, group, opts.nodes);
  const selector = { [LABEL_GROUP]: group };
  const samples: HandoffSample[] = [];
  const chainMs: number[] = [];
  for (let rep = 1; rep <= opts.reps; rep++) {
    await quiesce(ctx.redis, ctx.engine.config.redis.prefix);
    const [a, b, c] = ['a', 'b', 'c'].map((s) => `handoff-${String(rep).padStart(2, '0')}-${s}`) as [
      string,
      string,
      string,
    ];
    try {
      const t0 = performance.now();
      // Dependents first: each waits for what it names.
      await applyJob(ctx, c, { nodeSelector: selector, after: [b] });
      await applyJob(ctx, b, { nodeSelector: selector, after: [a] });
      await applyJob(ctx, a, { nodeSelector: selector });
      const completed = (job: string) =>
        firstEvent(
          ctx.djobs,
          (e) => e.name === job && e.p.phase === 'Completed' && e.p.readyNodes === opts.nodes,
        );
      // Generous: a lost wake-up of a node-run costs the engine's 60 s watchdog, per stage.
      const done = await progress.during(
        `repetition ${rep}: waiting for ${c} Completed`,
        ctx.djobs.until(() => completed(c), `${c} Completed`, 300_000),
      );
      chainMs.push(done.t - t0);
      const edge = (dep: string, dependent: string, label: HandoffSample['edge']) => {
        const depDone = firstEvent(ctx.djobs, (e) => e.name === dep && e.p.phase === 'Completed');
        const created = firstEvent(ctx.rpods, (e) => e.type === 'ADDED' && e.p.job === dependent);
        if (!depDone || !created) throw new Error(`handoff ${label} of repetition ${rep}: events missing`);
        samples.push({ rep, edge: label, ms: created.t - depDone.t });
        return created.t - depDone.t;
      };
      const ab = edge(a, b, 'a->b');
      const bc = edge(b, c, 'b->c');
      const slow = [a, b, c].filter((j) => {
        const first = firstEvent(ctx.rpods, (e) => e.type === 'ADDED' && e.p.job === j);
        const end = completed(j);
        return first && end && end.t - first.t > 30_000;
      });
      progress.step(
        `rep ${rep}/${opts.reps}: a->b ${ab.toFixed(1)} ms, b->c ${bc.toFixed(1)} ms, chain ${(done.t - t0).toFixed(0)} ms` +
          (slow.length ? ` (over 30 s from first ReaperPod to Completed: ${slow.join(', ')})` : ''),
      );
    } catch (err) {
      ctx.warn(`handoff repetition ${rep}: ${(err as Error).message}`);
    }
    await deleteJobs(ctx, [a, b, c]);
  }
  return {
    nodes: opts.nodes,
    reps: opts.reps,
    samples,
    summary: summarize(samples.map((s) => s.ms)),
    chainMs,
  };
}
