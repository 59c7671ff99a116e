/**
 * How many nodes of one job may run at once. `maxUnavailable` (an integer, or a percentage of the
 * targeted nodes rounded up, DaemonSet style, never below 1) overrides the scheduler's
 * `rollout.maxNodesInFlight` (`fallback`, 0 = no limit). Returns 0 for "no limit".
 */
export function maxNodesInFlight(
  maxUnavailable: number | string | undefined,
  targets: number,
  fallback: number,
): number {
  if (maxUnavailable === undefined) return fallback;
  if (typeof maxUnavailable === 'number') return Math.max(1, Math.floor(maxUnavailable));
  const percent = /^(\d+)%$/.exec(maxUnavailable);
  if (!percent) return fallback;
  return Math.max(1, Math.ceil((Number(percent[1]) * Math.max(0, targets)) / 100));
}
