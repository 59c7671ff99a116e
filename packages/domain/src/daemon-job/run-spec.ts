// Which spec changes start a new run. Every spec change bumps metadata.generation, but some fields
// only steer how runs proceed (pause them, bound an attempt, throttle the rollout): changing those
// must not re-run every node. The decider compares a fingerprint of the rest instead.
import { fnv1a64 } from '../hash';

/** Spec fields that steer runs without defining them: a change of only these starts no run. */
export const OPERATIONAL_SPEC_FIELDS = ['suspend', 'activeDeadlineSeconds', 'maxUnavailable'] as const;

const stable = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
};

/**
 * Fingerprint of a (defaulted) DaemonJob spec without its operational fields: equal for two specs
 * that define the same run, whatever the key order. FNV-1a 64: a collision would only miss one
 * re-run.
 */
export function runSpecHash(spec: Readonly<Record<string, unknown>>): string {
  const rest: Record<string, unknown> = { ...spec };
  for (const field of OPERATIONAL_SPEC_FIELDS) delete rest[field];
  return fnv1a64(stable(rest)).toString(16).padStart(16, '0');
}
