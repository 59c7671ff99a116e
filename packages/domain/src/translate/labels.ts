import { shortHash } from '../hash';
import { isDnsLabel } from '../schemas/names';

/** Label keys and values reaper-flow puts on the objects it creates. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'reaper-flow';
/** On a Pod: the ReaperPod that owns it (as a label value). */
export const REAPER_POD_LABEL = 'reaper.io/reaper-pod';
/** On a ReaperPod and its Pod: the ReaperDaemonJob that created it (as a label value). */
export const DAEMON_JOB_LABEL = 'reaper.io/daemon-job';
/** On a ReaperPod and its Pod: the node a ReaperDaemonJob pinned it to (as a label value). */
export const NODE_LABEL = 'reaper.io/node';
/**
 * On a Pod: the ReaperPod that owns it, under the key the original Reaper controller used, so
 * selectors written for it (`kubectl logs -l reaper.io/owner=<name>`) keep working.
 */
export const OWNER_LABEL = 'reaper.io/owner';
/** On a DaemonJob's ReaperPod and its Pod: its node, under the original Reaper controller's key. */
export const DAEMON_JOB_NODE_LABEL = 'reaper.io/daemon-job-node';

/** Annotations read by the Reaper runtime on the backing Pod. */
export const DNS_MODE_ANNOTATION = 'reaper.runtime/dns-mode';
export const OVERLAY_NAME_ANNOTATION = 'reaper.runtime/overlay-name';
/** Annotations the DaemonJob scheduler uses to tell runs and attempts apart. */
export const RUN_ID_ANNOTATION = 'reaper.io/run-id';
export const ATTEMPT_ANNOTATION = 'reaper.io/attempt';
/** Changing this annotation on a ReaperDaemonJob asks for a new run. */
export const TRIGGER_ANNOTATION = 'reaper.io/trigger';
/** Changing this annotation on a ReaperDaemonJob re-runs the nodes that exhausted their retries. */
export const RETRY_FAILED_ANNOTATION = 'reaper.io/retry-failed';

const LABEL_VALUE_MAX = 63;
const HASH_SUFFIX_LENGTH = 11; // '-' + 10 hash characters
const labelValueRegex = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** True when `s` is a valid Kubernetes label value (empty, or <= 63 chars, alphanumeric at both ends). */
export function isLabelValue(s: string): boolean {
  return s.length <= LABEL_VALUE_MAX && labelValueRegex.test(s);
}

/** Cuts `s` to `max` characters and trims what may not end or start a name. */
function trimToPrefix(s: string, max: number, edge: RegExp): string {
  let prefix = s.slice(0, max);
  while (prefix !== '' && !edge.test(prefix[0] ?? '')) prefix = prefix.slice(1);
  while (prefix !== '' && !edge.test(prefix[prefix.length - 1] ?? '')) prefix = prefix.slice(0, -1);
  return prefix;
}

/**
 * `s` itself when it is a valid label value, otherwise a stable shortened form
 * `<readable prefix>-<hash of s>` that is valid. The same input always gives the same output, so
 * selectors built from it keep matching.
 */
export function labelValue(s: string): string {
  if (isLabelValue(s)) return s;
  const sanitized = s.replace(/[^-A-Za-z0-9_.]/g, '-');
  const prefix = trimToPrefix(sanitized, LABEL_VALUE_MAX - HASH_SUFFIX_LENGTH, /[A-Za-z0-9]/);
  const hash = shortHash(s);
  return prefix === '' ? hash : `${prefix}-${hash}`;
}

/**
 * `candidate` when it is a valid DNS-1123 label, otherwise `<readable prefix>-<hash of key>`,
 * which is one. Used for child names that must also work as a label value and a hostname.
 */
export function dnsLabelName(candidate: string, key: string = candidate): string {
  if (isDnsLabel(candidate)) return candidate;
  const sanitized = candidate.toLowerCase().replace(/[^-a-z0-9]/g, '-');
  const prefix = trimToPrefix(sanitized, LABEL_VALUE_MAX - HASH_SUFFIX_LENGTH, /[a-z0-9]/);
  const hash = shortHash(key);
  return prefix === '' ? hash : `${prefix}-${hash}`;
}
