import type { ObserveDependencies, ObserveSpec, ObserveTargets } from './commands';
import { accepted, type Decision, stale } from './decision';
import { blockMessage, blockReasonName, sameBlock } from './dependency-block';
import type { DaemonJobEvent } from './events';
import { generationPending } from './phase';
import { type DaemonJobState, isActive } from './state';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * SpecObserved when any field the decider uses changed. An older generation (a stale cache read)
 * is ignored. Observing a new generation does not advance observedGeneration: that waits for the
 * TriggerRun that starts the generation's runs; except a generation whose runSpecHash equals the
 * started one's (only suspend, maxUnavailable or activeDeadlineSeconds changed), which is adopted
 * (GenerationAdopted): it starts no run. A change of `suspend` is also DaemonJobSuspended /
 * DaemonJobResumed (the scheduler wakes the waiting node-runs on resume).
 */
export function decideObserveSpec(command: ObserveSpec, state: DaemonJobState): Decision {
  const spec = state.spec;
  if (spec && command.generation < spec.generation) {
    return stale('StaleGeneration', `generation ${command.generation} is older than ${spec.generation}`);
  }
  const after = [...new Set(command.after)].sort(byName);
  const unchanged =
    spec !== undefined &&
    spec.generation === command.generation &&
    spec.retryLimit === command.retryLimit &&
    spec.concurrencyPolicy === command.concurrencyPolicy &&
    spec.triggerOn === command.triggerOn &&
    spec.suspend === command.suspend &&
    spec.runSpecHash === command.runSpecHash &&
    spec.after.join('\n') === after.join('\n');
  if (unchanged) return accepted([]);
  const at = command.at;
  const events: DaemonJobEvent[] = [
    {
      type: 'SpecObserved',
      generation: command.generation,
      after,
      retryLimit: command.retryLimit,
      concurrencyPolicy: command.concurrencyPolicy,
      triggerOn: command.triggerOn,
      suspend: command.suspend,
      runSpecHash: command.runSpecHash,
      at,
    },
  ];
  const adopts =
    spec !== undefined &&
    command.generation > spec.generation &&
    !generationPending(state) &&
    spec.runSpecHash !== undefined &&
    spec.runSpecHash === command.runSpecHash;
  if (adopts) events.push({ type: 'GenerationAdopted', generation: command.generation, at });
  const wasSuspended = spec?.suspend === true;
  if (command.suspend && !wasSuspended) events.push({ type: 'DaemonJobSuspended', at });
  if (!command.suspend && wasSuspended) events.push({ type: 'DaemonJobResumed', at });
  return accepted(events);
}

/**
 * Diffs the target set: nodes gone first (their active run cancelled before, so the scheduler deletes its
 * ReaperPod), then in name order nodes new and nodes whose boot id changed while targeted. A node never
 * seen with a boot id is not considered rebooted when one appears.
 */
export function decideObserveTargets(command: ObserveTargets, state: DaemonJobState): Decision {
  const desired = new Map<string, string | undefined>();
  for (const node of command.nodes) desired.set(node.name, node.bootId);
  const at = command.at;
  const events: DaemonJobEvent[] = [];

  const current = Object.keys(state.nodes).sort(byName);
  for (const name of current) {
    if (desired.has(name)) continue;
    const node = state.nodes[name];
    if (node && isActive(node) && node.runId !== undefined) {
      events.push({
        type: 'NodeRunCancelled',
        node: name,
        runId: node.runId,
        ...(node.reaperPodName !== undefined &&
          node.phase === 'Running' && { reaperPodName: node.reaperPodName }),
        at,
      });
    }
    events.push({ type: 'NodeLeftTargets', node: name, at });
  }

  const known = new Set(current);
  for (const name of [...desired.keys()].sort(byName)) {
    const bootId = desired.get(name);
    if (!known.has(name)) {
      events.push({ type: 'NodeJoinedTargets', node: name, ...(bootId !== undefined && { bootId }), at });
      continue;
    }
    const previousBootId = state.nodes[name]?.bootId;
    if (bootId !== undefined && previousBootId !== undefined && bootId !== previousBootId) {
      events.push({ type: 'NodeRebooted', node: name, bootId, previousBootId, at });
    }
  }
  return accepted(events);
}

/** DependencyBlocked when the block changed (kind, names, path or phases), DependencyUnblocked when lifted. */
export function decideObserveDependencies(command: ObserveDependencies, state: DaemonJobState): Decision {
  const block = command.block;
  if (sameBlock(block, state.block)) return accepted([]);
  if (block.kind === 'none') return accepted([{ type: 'DependencyUnblocked', at: command.at }]);
  return accepted([
    {
      type: 'DependencyBlocked',
      reason: blockReasonName(block),
      block,
      message: blockMessage(block),
      at: command.at,
    },
  ]);
}
