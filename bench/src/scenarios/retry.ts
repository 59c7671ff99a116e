// Retry: a node's attempt fails (ReaperPod Failed on the watch) -> the next attempt's ReaperPod is
// ADDED, against the configured backoff (retry.baseMs, factor, jitter 0 for the bench).
import { retryDelayMs } from '@reaper-flow/domain';
import { setNodeFault } from '@reaper-flow/local-cluster';
import { addNodes, applyJob, type Ctx, deleteJobs, firstEvent, LABEL_GROUP, quiesce } from '../ops';
import { progress } from '../progress';
import { type Summary, summarize } from '../stats';

interface RetrySample {
  readonly node: string;
  /** The attempt that failed (1 = first run). */
  readonly attempt: number;
  readonly measuredMs: number;
  readonly configuredMs: number;
  readonly overheadMs: number;
}

export interface RetryResult {
  readonly nodes: number;
  readonly failuresPerNode: number;
  readonly samples: RetrySample[];
  readonly measured: Summary;
  readonly overhead: Summary;
}

const JOB = 'retry';

export async function runRetry(
  ctx: Ctx,
  opts: { nodes: number; failuresPerNode: number },
): Promise<RetryResult> {
  progress.begin('retry', `${opts.nodes} node(s), each failing ${opts.failuresPerNode} time(s) first`);
  const names = await addNodes(ctx, 'retry', opts.nodes);
  for (const node of names) {
    await setNodeFault(ctx.client, { namespace: ctx.ns, job: JOB, node, times: opts.failuresPerNode });
  }
  await quiesce(ctx.redis, ctx.engine.config.redis.prefix);
  await applyJob(ctx, JOB, { nodeSelector: { [LABEL_GROUP]: 'retry' }, retryLimit: opts.failuresPerNode });
  await progress.during(
    'retry job Completed',
    ctx.djobs.until(
      () => {
        const j = ctx.djobs.latest.get(JOB)?.p;
        return j?.phase === 'Completed' && j.readyNodes === opts.nodes;
      },
      `${JOB} Completed on ${opts.nodes} nodes`,
      300_000,
    ),
  );
  const policy = ctx.engine.config.retry;
  const samples: RetrySample[] = [];
  for (const node of names) {
    for (let attempt = 1; attempt <= opts.failuresPerNode; attempt++) {
      const failed = firstEvent(
        ctx.rpods,
        (e) => e.p.node === node && e.p.job === JOB && e.p.attempt === attempt && e.p.phase === 'Failed',
      );
      const next = firstEvent(
        ctx.rpods,
        (e) => e.type === 'ADDED' && e.p.node === node && e.p.job === JOB && e.p.attempt === attempt + 1,
      );
      if (!failed || !next) throw new Error(`retry events of ${node} attempt ${attempt} missing`);
      // jitter is 0 for the bench, so the random input does not matter; 0.5 is the unjittered delay
      const configuredMs = retryDelayMs(attempt, policy, 0.5);
      const measuredMs = next.t - failed.t;
      samples.push({ node, attempt, measuredMs, configuredMs, overheadMs: measuredMs - configuredMs });
    }
  }
  for (const s of samples.slice(0, 6)) {
    progress.step(
      `${s.node} attempt ${s.attempt} -> ${s.attempt + 1}: ${s.measuredMs.toFixed(0)} ms (backoff ${s.configuredMs} ms)`,
    );
  }
  await deleteJobs(ctx, [JOB]);
  return {
    nodes: opts.nodes,
    failuresPerNode: opts.failuresPerNode,
    samples,
    measured: summarize(samples.map((s) => s.measuredMs)),
    overhead: summarize(samples.map((s) => s.overheadMs)),
  };
}
