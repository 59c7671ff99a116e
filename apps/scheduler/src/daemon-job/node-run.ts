import type { DependencyOnNode, HoldNodeRun, NodeGate, Persisted } from '@reaper-flow/domain';
import {
  decodeNodeProgress,
  decodeProgressMeta,
  desiredReaperPodForNode,
  type FinishNodeRun,
  isPersisted,
  maxNodesInFlight,
  nodeGate,
  PROGRESS_META_FIELD,
  parseReaperDaemonJob,
  type ReaperDaemonJob,
  type ReaperPod,
  reaperPodNameFor,
  retryDelayMs,
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
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { FIELD_MANAGER } from '../context';
import { belongsTo, deleteReaperPodOfRun } from './reaper-pods';
import type { DaemonJobEngineDeps } from './reconcile';
import type { TokenBucket } from './token-bucket';
import { toNodeView } from './world-views';

/**
 * While parked, a node-run is woken by the watcher when its ReaperPod changes. The watchdog wakes it
 * anyway after this long, in case a wake-up was lost (watcher restarting): a safety net, not a poll.
 */
const WATCHDOG_MS = 60_000;
/** The node status message of a node-run parked on the job's suspension. */
const SUSPENDED_MESSAGE = 'waiting: the job is suspended';
/** A create that met a ReaperPod still being removed tries again this soon. */
const RECREATE_DELAY_MS = 300;

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

/**
 * One node's part of a DaemonJob run, as a resumable step machine kept in job.data:
 * - create: create the attempt's ReaperPod `<job>-<node>` (annotated with run id and attempt;
 *   an existing one of this attempt is adopted, one of an older attempt or run is removed first),
 *   report StartNodeRun, then park;
 * - wait: woken when the ReaperPod changes; when it has ended, report FinishNodeRun and either
 *   finish (success, or retries exhausted) or park until the retry's backoff has passed;
 * - backoff: the backoff is over: go to create with the next attempt.
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
  const { ctx, store } = deps;
  // Awake now, and about to read the world: an older wake flag is served by this very run.
  await deps.flows.consumeWake(data.namespace, data.job, data.runId, data.node);
  const log = ctx.logger.child({
    key: `ReaperDaemonJob/${data.namespace}/${data.job}`,
    runId: data.runId,
    node: data.node,
    attempt: data.attempt,
  });
  log.debug({ step: data.step }, 'node-run step');
  const { namespace, runId, node } = data;
  const result = (outcome: NodeRunResult['outcome'], exitCode?: number): NodeRunResult => ({
    node,
    outcome,
    attempts: data.attempt,
    ...(exitCode === undefined ? {} : { exitCode }),
  });

  const owner = await currentJob(deps, data);
  const currentRunId = await store.currentRun(namespace, data.job, node);
  const rpodName = reaperPodNameFor(data.job, node);
  if (!owner || currentRunId !== runId) {
    // Replaced, cancelled (node left the targets) or the job is gone: remove our attempt's pod.
    log.debug({ current: currentRunId, jobFound: Boolean(owner) }, 'node-run superseded');
    await deleteReaperPodOfRun(ctx, namespace, { name: rpodName, runId, attempt: data.attempt });
    if (currentRunId && currentRunId !== runId) {
      // The run that replaced us may be waiting for our pod to go away.
      await deps.flows.wake(namespace, data.job, currentRunId, node);
    }
    await releaseSlot(deps, data);
    return result('Superseded');
  }

  if (data.step === 'backoff' && data.notBefore !== undefined && Date.now() < data.notBefore) {
    // Woken early (e.g. the failed attempt's pod changed): the backoff still applies.
    return park(deps, job, token, data.notBefore, data);
  }
  if (data.step === 'create' || data.step === 'backoff') {
    if (owner.spec.suspend && (await stillSuspended(deps, data))) {
      // Suspended: this attempt's ReaperPod is not made. Parked without a rollout slot (one kept
      // from a failed attempt is given back), registered so that any reconcile of the job that
      // finds it no longer suspended wakes it (a restarted scheduler's included); the status says
      // why the node waits.
      log.debug('node-run waits: the job is suspended');
      if (data.held !== SUSPENDED_MESSAGE) {
        await report(deps, data, {
          type: 'HoldNodeRun',
          runId,
          node,
          reason: 'Suspended',
          message: SUSPENDED_MESSAGE,
          at: new Date().toISOString(),
        });
      }
      await releaseSlot(deps, data);
      return park(deps, job, token, Date.now() + WATCHDOG_MS, data, { ...data, held: SUSPENDED_MESSAGE });
    }
    // `after` on this node: every dependency that targets it must have succeeded here in its newest
    // run. A held node-run parks (no slot taken) until a dependency's progress wakes it.
    const gate = await dependencyGate(deps, owner, data);
    if (gate.kind !== 'open') {
      if (data.held !== gate.message) {
        const hold: HoldNodeRun = {
          type: 'HoldNodeRun',
          runId,
          node,
          reason: gate.kind === 'failed' ? 'DependencyFailed' : 'DependencyWaiting',
          message: gate.message,
          at: new Date().toISOString(),
        };
        await report(deps, data, hold);
      }
      log.debug({ gate: gate.message }, 'node-run held by a dependency');
      return park(deps, job, token, Date.now() + WATCHDOG_MS, data, { ...data, held: gate.message });
    }
    // Rollout throttle: at most maxUnavailable (else rollout.maxNodesInFlight) nodes of this job
    // run at once (0: no limit). A node-run without a slot parks; the one that frees a slot wakes it.
    const max = await rolloutLimit(deps, owner, data);
    if (max > 0 && !(await deps.slots.acquire(namespace, data.job, `${runId}|${node}`, max))) {
      return park(deps, job, token, Date.now() + WATCHDOG_MS, data);
    }
    const ensured = await ensureReaperPod(deps, owner, data, rpodName);
    if (ensured === 'blocked')
      return park(deps, job, token, Date.now() + RECREATE_DELAY_MS, data, { ...data, step: 'create' });
    const start: StartNodeRun = {
      type: 'StartNodeRun',
      runId,
      node,
      attempt: data.attempt,
      reaperPodName: rpodName,
      at: new Date().toISOString(),
    };
    await report(deps, data, start);
    // A ReaperPod this step found rather than made (a step repeated after a crash) may have ended
    // already, and the wake for that was served before this step: look at it again at once.
    const until = ensured === 'adopted' ? Date.now() : Date.now() + WATCHDOG_MS;
    return park(deps, job, token, until, data, { ...data, step: 'wait' });
  }

  // step 'wait': has our attempt's ReaperPod ended?
  const rpod = await observedReaperPod(deps, namespace, rpodName);
  const ours = rpod && belongsTo(rpod, { runId, attempt: data.attempt }) ? rpod : undefined;
  const phase = ours?.status?.phase;
  const deadlineAt = attemptDeadline(owner, ours);
  const overdue = ours !== undefined && deadlineAt !== undefined && Date.now() >= deadlineAt;
  if (ours && phase !== 'Succeeded' && phase !== 'Failed' && !overdue) {
    // Woken by the ReaperPod's changes; at the latest by its deadline, or the watchdog.
    return park(deps, job, token, Math.min(Date.now() + WATCHDOG_MS, deadlineAt ?? Infinity), data);
  }
  const deadlineExceeded = overdue && phase !== 'Succeeded' && phase !== 'Failed';
  if (deadlineExceeded) {
    // Deleting the ReaperPod deletes its Pod, which stops the process.
    log.info({ activeDeadlineSeconds: owner.spec.activeDeadlineSeconds }, 'attempt exceeded its deadline');
    await deleteReaperPodOfRun(ctx, namespace, { name: rpodName, runId, attempt: data.attempt });
  }

  const now = Date.now();
  const exitCode = deadlineExceeded ? undefined : ours?.status?.exitCode;
  if (phase === 'Succeeded') {
    await report(deps, data, finish(data, 'Succeeded', now, exitCode));
    ctx.metrics.nodeRuns.inc({ outcome: 'Succeeded' });
    await releaseSlot(deps, data);
    return result('Succeeded', exitCode);
  }
  const message = deadlineExceeded
    ? `DeadlineExceeded: the attempt ran longer than activeDeadlineSeconds (${owner.spec.activeDeadlineSeconds}s) and was stopped`
    : ours
      ? ours.status?.message
      : 'the ReaperPod was deleted before it finished';
  const failed = (): FinishNodeRun => ({
    ...finish(data, 'Failed', now, exitCode, message),
    ...(deadlineExceeded && { reason: 'DeadlineExceeded' as const }),
  });
  const retryLimit = owner.spec.retryLimit;
  if (data.attempt - 1 < retryLimit) {
    const retryAt = now + retryDelayMs(data.attempt, ctx.live.current().retry, Math.random());
    await report(deps, data, { ...failed(), retryAt });
    ctx.metrics.nodeRunRetries.inc();
    return park(deps, job, token, retryAt, data, {
      ...data,
      step: 'backoff',
      attempt: data.attempt + 1,
      notBefore: retryAt,
    });
  }
  await report(deps, data, failed());
  ctx.metrics.nodeRuns.inc({ outcome: 'Failed' });
  await releaseSlot(deps, data);
  return result('Failed', exitCode);
}

function finish(
  data: NodeRunData,
  outcome: 'Succeeded' | 'Failed',
  now: number,
  exitCode?: number,
  message?: string,
): FinishNodeRun {
  return {
    type: 'FinishNodeRun',
    runId: data.runId,
    node: data.node,
    attempt: data.attempt,
    outcome,
    at: new Date(now).toISOString(),
    ...(exitCode === undefined ? {} : { exitCode }),
    ...(message ? { message } : {}),
  };
}

/**
 * When this attempt must have ended (epoch ms): its ReaperPod's creation plus
 * spec.activeDeadlineSeconds. Read from the ReaperPod, so a repeated step or a restarted scheduler
 * keeps the same deadline.
 */
function attemptDeadline(owner: Persisted<ReaperDaemonJob>, rpod: ReaperPod | undefined): number | undefined {
  const seconds = owner.spec.activeDeadlineSeconds;
  const created = rpod?.metadata.creationTimestamp;
  if (seconds === undefined || created === undefined) return undefined;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? undefined : ms + seconds * 1000;
}

/**
 * How many nodes of this job may run at once: spec.maxUnavailable (a percentage of the targets the
 * job's engine counted, from its progress index), else rollout.maxNodesInFlight; 0 = no limit.
 */
async function rolloutLimit(
  deps: NodeRunDeps,
  owner: Persisted<ReaperDaemonJob>,
  data: NodeRunData,
): Promise<number> {
  const fallback = deps.ctx.live.current().rollout.maxNodesInFlight;
  const maxUnavailable = owner.spec.maxUnavailable;
  if (maxUnavailable === undefined || typeof maxUnavailable === 'number') {
    return maxNodesInFlight(maxUnavailable, 0, fallback);
  }
  const progress = await deps.store.progressOf(data.namespace, data.job, data.node, PROGRESS_META_FIELD);
  return maxNodesInFlight(maxUnavailable, decodeProgressMeta(progress.meta)?.targets ?? 0, fallback);
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
