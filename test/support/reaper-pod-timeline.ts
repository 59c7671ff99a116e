// Records every ReaperPod of a namespace from a watch opened before the scenario: when each
// incarnation (uid) was seen created and when it was first seen finished, to the millisecond of this
// process's clock. Tests assert order and "no attempt created twice" from it, never from the
// second-resolution creationTimestamp.
import { performance } from 'node:perf_hooks';
import { Informer, type KubeClient, Resources } from '@reaper-flow/k8s';
import { waitFor } from '../harness/index';

export interface ReaperPodRecord {
  readonly uid: string;
  readonly name: string;
  readonly job: string | undefined;
  readonly node: string | undefined;
  readonly runId: string | undefined;
  readonly attempt: string | undefined;
  /** performance.now() when the incarnation was first seen. */
  readonly createdAt: number;
  /** performance.now() when it was first seen Succeeded or Failed. */
  finishedAt?: number;
  phase?: string;
  /** The exit code its status reported, once it did. */
  exitCode?: number;
}

interface ReaperPodLike {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { nodeName?: string };
  status?: { phase?: string; exitCode?: number };
}

export class ReaperPodTimeline {
  readonly records = new Map<string, ReaperPodRecord>();
  private readonly informer: Informer<ReaperPodLike>;

  constructor(client: KubeClient, namespace: string) {
    this.informer = new Informer<ReaperPodLike>({
      kube: client,
      resource: Resources.reaperPods,
      namespace,
      handler: async (change) => {
        if (change.type === 'DELETED' || change.type === 'SYNC') return;
        this.observe(change.object);
      },
    });
  }

  /** Starts watching and resolves once the first list is in. */
  async start(): Promise<this> {
    this.informer.start();
    await waitFor(() => this.informer.synced, { description: 'the ReaperPod timeline to sync' });
    return this;
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  private observe(pod: ReaperPodLike): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    const now = performance.now();
    let record = this.records.get(uid);
    if (!record) {
      record = {
        uid,
        name: pod.metadata.name ?? '',
        job: pod.metadata.labels?.['reaper.io/daemon-job'],
        node: pod.spec?.nodeName ?? pod.metadata.labels?.['reaper.io/node'],
        runId: pod.metadata.annotations?.['reaper.io/run-id'],
        attempt: pod.metadata.annotations?.['reaper.io/attempt'],
        createdAt: now,
      };
      this.records.set(uid, record);
    }
    const phase = pod.status?.phase;
    if (phase) record.phase = phase;
    if (pod.status?.exitCode !== undefined) record.exitCode = pod.status.exitCode;
    if ((phase === 'Succeeded' || phase === 'Failed') && record.finishedAt === undefined)
      record.finishedAt = now;
  }

  /** Incarnations of a DaemonJob's ReaperPods, oldest first. */
  of(job: string, node?: string): ReaperPodRecord[] {
    return [...this.records.values()]
      .filter((r) => r.job === job && (node === undefined || r.node === node))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Incarnations per attempt (or per name): more than one is an attempt created twice. */
  duplicatedAttempts(): string[] {
    const counts = new Map<string, number>();
    for (const r of this.records.values()) {
      // A DaemonJob's attempt is (job, run, node, attempt); any other ReaperPod is its name.
      const key = r.job === undefined ? r.name : `${r.job}/${r.runId}/${r.node}/${r.attempt}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key} x${n}`);
  }

  /**
   * Every ReaperPod of `dependent` on a node was created only after each ReaperPod of `dependency`
   * on that node created before it had Succeeded: the per-node `after` rule. Returns the violations.
   */
  orderViolations(dependent: string, dependency: string): string[] {
    const violations: string[] = [];
    for (const d of this.of(dependent)) {
      const before = this.of(dependency, d.node).filter((a) => a.createdAt < d.createdAt);
      const last = before.at(-1);
      if (!last) {
        violations.push(`${d.name} (${d.node}) created with no ${dependency} run on that node before it`);
        continue;
      }
      if (last.phase !== 'Succeeded' || last.finishedAt === undefined || last.finishedAt > d.createdAt) {
        const when =
          last.finishedAt === undefined
            ? `its ${dependency} run there never finished`
            : `${(last.finishedAt - d.createdAt).toFixed(1)} ms before its ${dependency} run there ended ${last.phase}`;
        violations.push(`${d.name} run ${d.runId} (${d.node}) created ${when}`);
      }
    }
    return violations;
  }
}
