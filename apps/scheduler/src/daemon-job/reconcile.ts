import { randomBytes } from 'node:crypto';
import {
  createAfterGraph,
  type DaemonJobEvent,
  DaemonJobEventReason,
  type DaemonJobState,
  initialEngineState,
  isActive,
  isPersisted,
  kubeEventsFor,
  maxNodesInFlight,
  nodeOf,
  type Persisted,
  type PlanInboxEntry,
  parseReaperDaemonJob,
  planReconcile,
  planStatus,
  type ReaperDaemonJob,
  settledState,
  targetCount,
  targetNodes,
  targetsOutdated,
} from '@reaper-flow/domain';
import { patchStatus, Resources } from '@reaper-flow/k8s';
import {
  type DaemonJobSnapshot,
  type DaemonJobStore,
  type InboxEntry,
  isUnreadableStoredData,
  type RunFlows,
  type RunSlots,
  TerminalReconcileError,
  type WorldNode,
} from '@reaper-flow/queue';
import type { Logger } from '@reaper-flow/runtime';
import type { ReconcileOutcome, ReconcileRequest, SchedulerContext } from '../context';
import { FIELD_MANAGER } from '../context';
import { deleteNodeReaperPod, deleteReaperPodOfRun } from './reaper-pods';
import { type StoredJobForGraph, toAfterJob, toNodeView } from './world-views';

export interface DaemonJobEngineDeps {
  readonly ctx: SchedulerContext;
  readonly store: DaemonJobStore;
  readonly flows: RunFlows;
  readonly slots: RunSlots;
}

/** Run ids are short (they appear in job ids and annotations) and unique per trigger. */
function newRunId(now: Date): string {
  return `${now.getTime().toString(36)}${randomBytes(3).toString('hex')}`;
}

/**
 * The inbox entries to fold, in order: a refused entry is skipped (said once, naming it: the cursor
 * moves past it); the fold stops before an entry in a newer format, which a scheduler of that version
 * folds later (said on every reconcile until then).
 */
function foldableInbox(entries: readonly InboxEntry[], log: Logger): PlanInboxEntry[] {
  const out: PlanInboxEntry[] = [];
  for (const entry of entries) {
    if ('command' in entry) {
      out.push({ id: entry.id, command: entry.command });
      continue;
    }
    log.warn({ inboxEntry: entry.id, err: entry.refused }, entry.refused.message);
    if (entry.newer) break;
    out.push({ id: entry.id, command: undefined });
  }
  return out;
}

/**
 * Reconciles one ReaperDaemonJob, as a shell around the domain's pure plan (planReconcile,
 * planStatus): read the job, its saved state, its inbox, the target Nodes (only when they may have
 * changed) and the namespace's `after` graph; plan; save the plan's state and domain events
 * (compare-and-set); then act on its intents: add run flows, delete ReaperPods of cancelled runs,
 * wake node-runs, record Events and write the status (coalesced).
 *
 * Level-triggered and idempotent: every decision is recomputed from the stored state and the
 * world; effects follow from saved intents (pendingFlows, pendingDeletes), so a crash after the save
 * redoes them next time, and they are idempotent (deterministic job ids, uid-guarded deletes).
 */
export async function reconcileDaemonJob(
  deps: DaemonJobEngineDeps,
  req: ReconcileRequest,
): Promise<ReconcileOutcome> {
  const { ctx, store } = deps;
  const { namespace, name, log } = req;
  const raw = await ctx.world.get<Record<string, unknown>>('ReaperDaemonJob', namespace, name);
  if (!raw) {
    await forgetJob(deps, namespace, name, log);
    return undefined;
  }
  const parsed = parseReaperDaemonJob(raw);
  if (!parsed.ok || !isPersisted(parsed.value)) {
    const issues = parsed.ok ? ['metadata.uid/namespace missing'] : parsed.issues;
    await reportInvalid(ctx, raw, issues);
    throw new TerminalReconcileError(`invalid ReaperDaemonJob: ${issues.join('; ')}`);
  }
  const job = parsed.value;
  const uid = job.metadata.uid;

  // Read.
  let snapshot = await loadSnapshot(ctx, store, job);
  if (snapshot && snapshot.uid !== uid) {
    // A new object with an old name: the old incarnation's runs must not leak into it.
    await forgetJob(deps, namespace, name, log);
    snapshot = undefined;
  }
  const version = snapshot?.version ?? 0;
  const previous = snapshot?.state ?? initialEngineState;
  const inboxCursor = snapshot?.inboxCursor ?? '0-0';
  const inbox = foldableInbox(await store.readInbox(namespace, name, inboxCursor), log);
  // Every Node is read only when a Node or the spec changed since the last look (the watcher bumps
  // the Node revision on every relevant Node change, before it enqueues this key).
  const nodesRevision = await ctx.world.revision('Node');
  const targets = targetsOutdated(previous, nodesRevision, job.metadata.generation ?? 1)
    ? await readTargets(ctx, job.spec)
    : undefined;
  const jobs = await ctx.world.list<StoredJobForGraph>('ReaperDaemonJob', namespace);
  const graph = createAfterGraph(jobs.map(toAfterJob));
  const now = ctx.now();

  // Plan, then save the decisions with the intents they imply, atomically with the domain events.
  const plan = planReconcile({
    job,
    previous,
    inboxCursor,
    inbox,
    targets,
    nodesRevision,
    dependencyBlock: graph.blockReason(name),
    now,
    newRunId: () => newRunId(now),
  });
  const { domain, events, intents } = plan;
  const meta = {
    uid,
    inboxCursor: plan.inboxCursor,
    lastStatusWriteAt: snapshot?.lastStatusWriteAt ?? 0,
    lastStatusHash: snapshot?.lastStatusHash ?? '',
  };
  const saved = await store.save(
    namespace,
    name,
    version,
    { ...meta, state: intents },
    events,
    plan.runIndex,
    plan.progressIndex,
  );
  if (!saved)
    throw new Error(`ReaperDaemonJob ${namespace}/${name} was saved concurrently; reconciling again`);

  // Act on the intents (each idempotent).
  for (const flow of intents.pendingFlows) {
    await deps.flows.addRun(
      { namespace, job: name, jobUid: uid, runId: flow.runId, generation: flow.generation },
      flow.nodes,
    );
    log.info({ runId: flow.runId, nodes: flow.nodes.length }, 'run started');
  }
  for (const ref of intents.pendingDeletes) await deleteReaperPodOfRun(ctx, namespace, ref);
  for (const pod of intents.leftNodePods ?? []) await deleteNodeReaperPod(ctx, namespace, pod, uid);
  await wakeHeldDependents(deps, namespace, graph.dependentsOf(name), events);
  if (!job.spec.suspend) await wakeSuspendedNodeRuns(deps, namespace, name);
  await releaseOrphanedSlots(
    deps,
    namespace,
    name,
    domain,
    maxNodesInFlight(
      job.spec.maxUnavailable,
      targetCount(domain),
      ctx.live.current().rollout.maxNodesInFlight,
    ),
  );
  const involved = { apiVersion: job.apiVersion, kind: job.kind, name, namespace, uid };
  for (const kubeEvent of kubeEventsFor(events))
    await ctx.recorder.record(involved, kubeEvent.type, kubeEvent.reason, kubeEvent.message);

  // Status: the fold of the domain events; phase changes at once, the rest coalesced (planStatus).
  const status = planStatus({
    domain,
    lastWrittenPhase: previous.lastWrittenPhase,
    lastWritten: previous.lastWrittenStatus,
    lastStatusHash: meta.lastStatusHash,
    lastStatusWriteAt: meta.lastStatusWriteAt,
    nowMs: now.getTime(),
    coalesceMs: ctx.live.current().status.coalesceMs,
    maxNodeStatuses: ctx.config.status.maxNodeStatuses,
  });
  const wrote = status.write.kind === 'write';
  if (wrote) {
    await patchStatus(ctx.kube, Resources.reaperDaemonJobs, job, status.status, {
      fieldManager: FIELD_MANAGER,
    });
    ctx.metrics.statusWrites.inc({ kind: 'ReaperDaemonJob' });
  }

  // Clear the intents done. Losing this race only means the next reconcile redoes them.
  const settled = settledState(intents, wrote ? status.written : undefined);
  if (settled) {
    const statusMeta = wrote ? { lastStatusWriteAt: now.getTime(), lastStatusHash: status.hash } : {};
    await store.save(namespace, name, version + 1, { ...meta, ...statusMeta, state: settled }, []);
  }
  return status.write.kind === 'defer' ? { requeueAfterMs: status.write.afterMs } : undefined;
}

/** The job's target nodes as the world has them now, with their boot ids. */
async function readTargets(ctx: SchedulerContext, spec: ReaperDaemonJob['spec']) {
  const nodes = (await ctx.world.list<WorldNode>('Node', '')).map(toNodeView);
  const bootIds = new Map(nodes.map((n) => [n.name, n.bootId]));
  return targetNodes(spec, nodes).map((n) => {
    const bootId = bootIds.get(n);
    return bootId ? { name: n, bootId } : { name: n };
  });
}

/**
 * This job's progress moved on some nodes: wake the node-runs of its dependents that wait for it on
 * those nodes, so a dependent starts there within milliseconds of the dependency succeeding. Runs
 * after the save, and the dependents register before they read the progress (markHeld): none is
 * left parked on a progress it did not see.
 */
async function wakeHeldDependents(
  deps: DaemonJobEngineDeps,
  namespace: string,
  dependents: readonly string[],
  events: readonly DaemonJobEvent[],
): Promise<void> {
  if (dependents.length === 0) return;
  const touched = [...new Set(events.flatMap((e) => ('node' in e ? [e.node] : [])))];
  if (touched.length === 0) return;
  for (const dependent of dependents) {
    for (const [node, runId] of await deps.store.heldRuns(namespace, dependent, touched)) {
      await deps.flows.wake(namespace, dependent, runId, node);
    }
  }
}

/**
 * The job is not suspended: wake the node-runs that parked on its suspension (they registered
 * before they parked). Derived from the state, not from the resume event, so any reconcile after a
 * resume wakes them, even when the scheduler that folded the resume died before it could; one HGETALL
 * of an empty hash otherwise. The registration is dropped after the wake: a crash between the two
 * only repeats the wake, which a woken node-run serves like any other.
 */
async function wakeSuspendedNodeRuns(
  deps: DaemonJobEngineDeps,
  namespace: string,
  name: string,
): Promise<void> {
  for (const [node, runId] of await deps.store.suspendedWaits(namespace, name)) {
    await deps.flows.wake(namespace, name, runId, node);
    await deps.store.clearSuspendedWait(namespace, name, node, runId);
  }
}

/**
 * Rollout slots are re-derived from the job's state: a slot held for a node whose run no longer
 * owns it, or has finished there, belongs to a node-run that is gone (crashed, failed for good,
 * superseded before it could release): free it. Then wake the waiters a free slot is there for.
 * At most `max` holders (maxUnavailable, or rollout.maxNodesInFlight), so this costs a few small Redis reads per reconcile.
 */
async function releaseOrphanedSlots(
  deps: DaemonJobEngineDeps,
  namespace: string,
  name: string,
  domain: DaemonJobState,
  max: number,
): Promise<void> {
  for (const member of await deps.slots.holders(namespace, name)) {
    const [runId, node] = member.split('|');
    const state = node === undefined ? undefined : nodeOf(domain, node);
    if (state && state.runId === runId && isActive(state)) continue;
    await deps.slots.release(namespace, name, member);
  }
  // A slot freed by a node-run that died before it woke the next waiter: wake the waiters that
  // would get a slot now (they acquire it themselves; an extra wake only re-parks one).
  if (max <= 0) return;
  for (const member of await deps.slots.wakeable(namespace, name, max)) {
    const [runId, node] = member.split('|');
    if (runId && node) await deps.flows.wake(namespace, name, runId, node);
  }
}

/**
 * The job is gone: drop its queued work and state (its ReaperPods go by garbage collection). Its
 * log, the history `kubectl reaper history` reads, expires after queues.retention.deletedJobLogSeconds
 * (a job created again under the name clears the expiry with its first save).
 */
async function forgetJob(
  deps: DaemonJobEngineDeps,
  namespace: string,
  name: string,
  log: Logger,
): Promise<void> {
  let snapshot: DaemonJobSnapshot | undefined;
  try {
    snapshot = await deps.store.load(namespace, name);
  } catch (err) {
    if (!isUnreadableStoredData(err)) throw err;
    // Its runs cannot be listed: their flows stay until retention; the state goes all the same.
    log.warn({ err }, `forgetting a deleted job whose state cannot be read: ${err.message}`);
    await deps.store.forget(namespace, name, deps.ctx.config.queues.retention.deletedJobLogSeconds);
    return;
  }
  if (!snapshot) return;
  const runIds = new Set<string>(snapshot.state.pendingFlows.map((f) => f.runId));
  for (const node of Object.values(snapshot.state.domain.nodes)) if (node.runId) runIds.add(node.runId);
  for (const runId of runIds) await deps.flows.removeRun(namespace, name, runId);
  await deps.store.forget(namespace, name, deps.ctx.config.queues.retention.deletedJobLogSeconds);
}

/**
 * The job's saved state. One that cannot be read (not a snapshot, or from a newer release) is
 * reported on the job (a Warning Event with the store's message, which names the key and what to
 * do) and stops this job's reconcile as terminal: the other jobs go on, and a change of this one
 * reconciles it again.
 */
async function loadSnapshot(ctx: SchedulerContext, store: DaemonJobStore, job: Persisted<ReaperDaemonJob>) {
  try {
    return await store.load(job.metadata.namespace, job.metadata.name);
  } catch (err) {
    if (!isUnreadableStoredData(err)) throw err;
    const { apiVersion, kind, metadata } = job;
    const involved = {
      apiVersion,
      kind,
      name: metadata.name,
      namespace: metadata.namespace,
      uid: metadata.uid,
    };
    await ctx.recorder.record(involved, 'Warning', DaemonJobEventReason.StateUnreadable, err.message);
    throw new TerminalReconcileError(err.message, { cause: err });
  }
}

async function reportInvalid(ctx: SchedulerContext, raw: Record<string, unknown>, issues: readonly string[]) {
  const job = raw as unknown as ReaperDaemonJob;
  const message = `invalid spec: ${issues.join('; ')}`;
  await ctx.recorder.record(
    {
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperDaemonJob',
      name: job.metadata.name,
      namespace: job.metadata.namespace,
      uid: job.metadata.uid,
    },
    'Warning',
    DaemonJobEventReason.InvalidSpec,
    message,
  );
  await patchStatus(ctx.kube, Resources.reaperDaemonJobs, job, { phase: 'Pending', message });
}
