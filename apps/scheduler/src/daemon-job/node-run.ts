import {
  belongsTo,
  type DependencyOnNode,
  decodeNodeProgress,
  decodeProgressMeta,
  desiredReaperPodForNode,
  type FinishNodeRun,
  type HoldNodeRun,
  isPersisted,
  type NodeGate,
  type NodeRunEffect,
  type NodeRunFacts,
  type NodeRunQuestion,
  nodeGate,
  type Persisted,
  PROGRESS_META_FIELD,
  parseReaperDaemonJob,
  planNodeRunStep,
  type ReaperDaemonJob,
  type ReaperPod,
  reaperPodNameFor,
  type StartNodeRun,
  TRIGGER_ANNOTATION,
} from '@reaper-flow/domain';
import { isApiError, Resources } from '@reaper-flow/k8s';
import {
  type NodeRunData,
  NodeRunDataSchema,
  type NodeRunResult,
  type RunSlots,
  type WorldNode,
} from '@reaper-flow/queue';
import type { Logger } from '@reaper-flow/runtime';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { FIELD_MANAGER } from '../context';
import { deleteReaperPodOfRun } from './reaper-pods';
import type { DaemonJobEngineDeps } from './reconcile';
import type { TokenBucket } from './token-bucket';
import { toNodeView } from './world-views';

export interface NodeRunDeps extends DaemonJobEngineDeps {
  readonly createLimiter: TokenBucket;
  readonly slots: RunSlots;
}

/** Frees this node-run's in-flight slot and wakes the oldest node-run waiting for one. */
async function releaseSlot(deps: NodeRunDeps, data: NodeRunData): Promise<void> {
  const next = await deps.slots.release(data.namespace, data.job, `${data.runId}|${data.node}`);
  if (!next) return;
  const [runId, node] = next.split('|');
  if (runId && node) await deps.flows.wake(data.namespace, data.job, runId, node);
}

/**
 * Parks the job until `at` (or an earlier wake-up) without holding a worker slot. A wake that came
 * while this step was running (the flag RunFlows.wake leaves) promotes the job at once.
 */
export async function park(
  deps: Pick<NodeRunDeps, 'flows'>,
  job: Job,
  token: string | undefined,
  at: number,
  data: NodeRunData,
  next?: NodeRunData,
): Promise<never> {
  if (next) await job.updateData(next);
  await job.moveToDelayed(at, token);
  if (await deps.flows.consumeWake(data.namespace, data.job, data.runId, data.node)) {
    await job.promote().catch(() => undefined);
  }
  throw new DelayedError();
}

/** A step asks at most this many questions (one of each kind); more is a bug in the plan. */
const MAX_QUESTIONS = 8;

/**
 * One node's part of a DaemonJob run, as the shell of the domain's planNodeRunStep: read the job
 * and the run index, then answer the plan's questions (each a read, or a write with a result, at
 * the point of the step where it is needed) until it says how the step ends; perform its effects;
 * park or finish. The step machine is kept in job.data (see planNodeRunStep).
 * Reports go to the job's inbox (append only) and the job's key is enqueued, so the job's reconcile
 * folds them. Every step is idempotent: at-least-once delivery (a stalled step, a scheduler killed
 * mid-step) repeats a step, never an attempt: the ReaperPod of an attempt is found by name and
 * annotations before anything is created.
 */
export async function processNodeRun(
  deps: NodeRunDeps,
  job: Job,
  token: string | undefined,
): Promise<NodeRunResult> {
  const parsed = NodeRunDataSchema.safeParse(job.data);
  if (!parsed.success) {
    // Not a node-run this engine wrote (garbage in the queue): fail it once, never retried; the
    // worker's `failed` line names the job. The job's reconcile re-derives real node-runs.
    const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`);
    throw new UnrecoverableError(`invalid node-run job ${job.id}: ${fields.join('; ')}`);
  }
  const data = parsed.data;
  const { ctx } = deps;
  // Awake now, and about to read the world: an older wake flag is served by this very run.
  await deps.flows.consumeWake(data.namespace, data.job, data.runId, data.node);
  const log = ctx.logger.child({
    key: `ReaperDaemonJob/${data.namespace}/${data.job}`,
    runId: data.runId,
    node: data.node,
    attempt: data.attempt,
  });
  log.debug({ step: data.step }, 'node-run step');

  let facts: NodeRunFacts = {
    job: await currentJob(deps, data),
    currentRunId: await deps.store.currentRun(data.namespace, data.job, data.node),
  };
  const random01 = Math.random();
  for (let asked = 0; ; asked += 1) {
    const plan = planNodeRunStep({
      state: data,
      facts,
      nowMs: Date.now(),
      random01,
      retry: ctx.live.current().retry,
      maxNodesInFlight: ctx.live.current().rollout.maxNodesInFlight,
    });
    if (plan.kind === 'ask') {
      if (asked >= MAX_QUESTIONS) throw new Error(`node-run plan kept asking (${plan.question.kind})`);
      facts = { ...facts, ...(await answer(deps, data, facts, plan.question)) };
      continue;
    }
    for (const effect of plan.effects) await perform(deps, data, log, effect);
    if (plan.kind === 'park') {
      return park(deps, job, token, plan.untilMs, data, plan.next && { ...data, ...plan.next });
    }
    return {
      node: data.node,
      outcome: plan.outcome,
      attempts: data.attempt,
      ...(plan.exitCode === undefined ? {} : { exitCode: plan.exitCode }),
    };
  }
}

/** Finds out what the plan asked. */
async function answer(
  deps: NodeRunDeps,
  data: NodeRunData,
  facts: NodeRunFacts,
  question: NodeRunQuestion,
): Promise<Partial<NodeRunFacts>> {
  const { namespace, runId, node } = data;
  switch (question.kind) {
    case 'stillSuspended':
      return { stillSuspended: await stillSuspended(deps, data) };
    case 'dependencyGate': {
      if (!facts.job) throw new Error('node-run plan asked for the gate of a job it does not have');
      return { gate: await dependencyGate(deps, facts.job, data) };
    }
    case 'rolloutTargets': {
      const progress = await deps.store.progressOf(namespace, data.job, node, PROGRESS_META_FIELD);
      return { rolloutTargets: decodeProgressMeta(progress.meta)?.targets ?? 0 };
    }
    case 'acquireSlot':
      return {
        slotAcquired: await deps.slots.acquire(namespace, data.job, `${runId}|${node}`, question.max),
      };
    case 'ensureReaperPod': {
      if (!facts.job) throw new Error('node-run plan asked for a ReaperPod of a job it does not have');
      return { ensured: await ensureReaperPod(deps, facts.job, data, reaperPodNameFor(data.job, node)) };
    }
    case 'observeReaperPod':
      return {
        observed: { reaperPod: await observedReaperPod(deps, namespace, reaperPodNameFor(data.job, node)) },
      };
    default: {
      const never: never = question;
      throw new Error(`unknown node-run question ${JSON.stringify(never)}`);
    }
  }
}

/** Carries out one effect of the plan. */
async function perform(
  deps: NodeRunDeps,
  data: NodeRunData,
  log: Logger,
  effect: NodeRunEffect,
): Promise<void> {
  const { ctx } = deps;
  const { namespace, runId, node } = data;
  switch (effect.type) {
    case 'report':
      return report(deps, data, effect.command);
    case 'releaseSlot':
      return releaseSlot(deps, data);
    case 'deleteAttemptPod':
      return deleteReaperPodOfRun(ctx, namespace, {
        name: reaperPodNameFor(data.job, node),
        runId,
        attempt: data.attempt,
      });
    case 'wake':
      await deps.flows.wake(namespace, data.job, effect.runId, node);
      return;
    case 'count':
      if (effect.metric === 'nodeRuns') ctx.metrics.nodeRuns.inc({ outcome: effect.outcome });
      else ctx.metrics.nodeRunRetries.inc();
      return;
    case 'log':
      log[effect.level](effect.fields ?? {}, effect.message);
      return;
    default: {
      const never: never = effect;
      throw new Error(`unknown node-run effect ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The per-node `after` gate, from the dependencies' own engine state (their progress index) and the
 * world's view of each dependency and of this node. The node-run registers as held before it reads,
 * and unregisters once the gate is open: see DaemonJobStore.markHeld.
 */
async function dependencyGate(
  deps: DaemonJobEngineDeps,
  owner: Persisted<ReaperDaemonJob>,
  data: NodeRunData,
): Promise<NodeGate> {
  const after = [...new Set(owner.spec.after ?? [])];
  if (after.length === 0) return { kind: 'open' };
  const { ctx, store } = deps;
  const { namespace, node } = data;
  await store.markHeld(namespace, data.job, node, data.runId);
  const stored = await ctx.world.get<WorldNode>('Node', '', node);
  if (!stored) return { kind: 'waiting', names: [], message: `node ${node} is not known yet` };
  const view = toNodeView(stored);
  const dependencies = await Promise.all(
    after.map(async (name): Promise<DependencyOnNode> => {
      const raw = await ctx.world.get<unknown>('ReaperDaemonJob', namespace, name);
      const parsed = raw === undefined ? undefined : parseReaperDaemonJob(raw);
      const progress = await store.progressOf(namespace, name, node, PROGRESS_META_FIELD);
      const meta = decodeProgressMeta(progress.meta);
      const entry = decodeNodeProgress(progress.node);
      if (!parsed?.ok) return { name };
      const dep = parsed.value;
      const triggerValue = dep.metadata.annotations?.[TRIGGER_ANNOTATION];
      return {
        name,
        job: {
          generation: dep.metadata.generation ?? 1,
          triggerOn: dep.spec.triggerOn,
          ...(triggerValue !== undefined && { triggerValue }),
          targeting: {
            ...(dep.spec.nodeSelector && { nodeSelector: dep.spec.nodeSelector }),
            ...(dep.spec.tolerations && { tolerations: dep.spec.tolerations }),
          },
        },
        ...(meta && { meta }),
        ...(entry && { node: entry }),
      };
    }),
  );
  const gate = nodeGate(view, dependencies);
  if (gate.kind === 'open') await store.clearHeld(namespace, data.job, node);
  return gate;
}

/**
 * The job read at the start of the step was suspended: register this node-run as parked on the
 * suspension, then read the job again. A resume that came before the registration is seen by this
 * read; one after it finds the registration (DaemonJobStore.markSuspendedWait).
 */
async function stillSuspended(deps: NodeRunDeps, data: NodeRunData): Promise<boolean> {
  await deps.store.markSuspendedWait(data.namespace, data.job, data.node, data.runId);
  const again = await currentJob(deps, data);
  if (again?.spec.suspend) return true;
  await deps.store.clearSuspendedWait(data.namespace, data.job, data.node, data.runId);
  return false;
}

/** Hands a fact to the job's reconcile: append to its inbox, then enqueue its key. */
async function report(
  deps: DaemonJobEngineDeps,
  data: NodeRunData,
  command: StartNodeRun | FinishNodeRun | HoldNodeRun,
) {
  await deps.store.appendInbox(data.namespace, data.job, command);
  await deps.ctx.queues.ReaperDaemonJob.enqueue({
    kind: 'ReaperDaemonJob',
    namespace: data.namespace,
    name: data.job,
  });
}

/** The DaemonJob this node-run belongs to, if it still exists as the same incarnation. */
async function currentJob(
  deps: DaemonJobEngineDeps,
  data: NodeRunData,
): Promise<Persisted<ReaperDaemonJob> | undefined> {
  const raw = await deps.ctx.world.get<unknown>('ReaperDaemonJob', data.namespace, data.job);
  const parsed = raw === undefined ? undefined : parseReaperDaemonJob(raw);
  if (!parsed?.ok || !isPersisted(parsed.value) || parsed.value.metadata.uid !== data.jobUid)
    return undefined;
  return parsed.value;
}

/** The ReaperPod as the watcher last saw it; when the world has none, the API confirms. */
async function observedReaperPod(deps: DaemonJobEngineDeps, namespace: string, name: string) {
  const seen = await deps.ctx.world.get<ReaperPod>('ReaperPod', namespace, name);
  return seen ?? (await deps.ctx.kube.get<ReaperPod>(Resources.reaperPods, name, { namespace }));
}

/**
 * Makes sure this attempt's ReaperPod exists: `created` by this call, `adopted` (made by an earlier
 * try of this step), or `blocked` when an older attempt's or run's pod is in the way and was just
 * removed (the caller retries shortly).
 */
async function ensureReaperPod(
  deps: NodeRunDeps,
  owner: Persisted<ReaperDaemonJob>,
  data: NodeRunData,
  name: string,
): Promise<'created' | 'adopted' | 'blocked'> {
  const { ctx } = deps;
  const { namespace, runId, attempt } = data;
  const seen = await ctx.world.get<ReaperPod>('ReaperPod', namespace, name);
  if (seen && belongsTo(seen, { runId, attempt })) return 'adopted';
  if (!seen) {
    await deps.createLimiter.take();
    try {
      await ctx.kube.create(
        Resources.reaperPods,
        desiredReaperPodForNode(owner, data.node, { runId, attempt }),
        {
          namespace,
          fieldManager: FIELD_MANAGER,
        },
      );
      return 'created';
    } catch (err) {
      if (!isApiError(err, 'AlreadyExists')) throw err;
    }
  }
  const existing = await ctx.kube.get<ReaperPod>(Resources.reaperPods, name, { namespace });
  if (!existing) return 'blocked';
  if (belongsTo(existing, { runId, attempt })) return 'adopted'; // created by an earlier try of this step
  await removeStale(deps, namespace, existing);
  return 'blocked';
}

/** Removes an older attempt's ReaperPod and its Pod, so the new attempt's Pod can take the name. */
async function removeStale(deps: DaemonJobEngineDeps, namespace: string, rpod: ReaperPod): Promise<void> {
  const { kube } = deps.ctx;
  const name = rpod.metadata.name ?? '';
  const uid = rpod.metadata.uid;
  try {
    await kube.delete(Resources.reaperPods, name, {
      namespace,
      propagationPolicy: 'Background',
      ...(uid ? { preconditions: { uid } } : {}),
    });
  } catch (err) {
    if (!isApiError(err, 'Conflict')) throw err;
  }
  const pod = await kube.get<{ metadata: { uid?: string; ownerReferences?: { uid: string }[] } }>(
    Resources.pods,
    name,
    { namespace },
  );
  const podUid = pod?.metadata.uid;
  if (pod && podUid && pod.metadata.ownerReferences?.some((o) => o.uid === uid)) {
    // Not waiting for garbage collection: the next attempt's Pod needs the name now.
    await kube.delete(Resources.pods, name, { namespace, preconditions: { uid: podUid } }).catch((err) => {
      if (!isApiError(err, 'Conflict')) throw err;
    });
  }
}
