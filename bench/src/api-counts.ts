// API request counts of a scenario, as the bench compares them: per `VERB resource[/subresource]`,
// per node-run, split into reads, writes and watches opened.
import type { RequestMetric } from '@reaper-flow/k8s';

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);
const READ_VERBS = new Set(['GET', 'LIST']);

export interface ApiCount {
  /** `VERB resource[/subresource]` */
  readonly request: string;
  readonly count: number;
  readonly perNodeRun: number;
}

/** Reads (GET, LIST), writes and watches opened, per node-run. */
export interface ApiKinds {
  readonly reads: number;
  readonly writes: number;
  readonly watches: number;
}

/** `VERB resource subresource` (a counterIncrease key) -> `VERB resource/subresource`. */
function labelsOf(key: string): string {
  const [verb = '', resource = '', sub = ''] = key.split(' ');
  return `${verb} ${resource}${sub ? `/${sub}` : ''}`;
}

export function isWrite(request: string): boolean {
  return WRITE_VERBS.has(request.split(' ')[0] ?? '');
}

/** Counts keyed `VERB resource subresource` -> ApiCount rows, per node-run of `nodeRuns`. */
export function apiCounts(increase: ReadonlyMap<string, number>, nodeRuns: number): ApiCount[] {
  return [...increase].map(([k, count]) => ({ request: labelsOf(k), count, perNodeRun: count / nodeRuns }));
}

export function apiKinds(rows: readonly ApiCount[]): ApiKinds {
  const sum = (pred: (verb: string) => boolean) =>
    rows.filter((r) => pred(r.request.split(' ')[0] ?? '')).reduce((n, r) => n + r.perNodeRun, 0);
  return {
    reads: sum((v) => READ_VERBS.has(v)),
    writes: sum((v) => WRITE_VERBS.has(v)),
    watches: sum((v) => v === 'WATCH'),
  };
}

/**
 * Counts one client's requests (KubeClient's onRequest, which fires when the response starts, so a
 * watch counts when it is opened), keyed like counterIncrease: `VERB resource`.
 */
export class RequestTally {
  private readonly counts = new Map<string, number>();

  readonly onRequest = (m: RequestMetric): void => {
    const key = `${m.verb} ${m.resource}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  };

  /** The counts so far, and a fresh start. */
  take(): Map<string, number> {
    const out = new Map([...this.counts].sort((a, b) => b[1] - a[1]));
    this.counts.clear();
    return out;
  }
}
