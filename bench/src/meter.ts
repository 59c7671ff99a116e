// CPU and memory of every process taking part: the bench itself, the watcher and scheduler, the
// stand-in kubelet and the cluster's processes (etcd, kube-apiserver, controller manager, redis).
import type { ChildApp } from './child';
import type { ClusterProcess } from './env';
import { type ProcSample, readProc } from './proc';

export type Snapshot = ReadonlyMap<string, ProcSample>;

export interface RssPoint {
  /** Seconds since the bench started. */
  readonly t: number;
  readonly app: string;
  readonly rssMiB: number;
}

export class Meter {
  private readonly apps = new Map<string, ChildApp>();
  private readonly pids = new Map<string, number>();
  readonly timeline: RssPoint[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly t0: number) {}

  addApp(app: ChildApp): void {
    this.apps.set(app.spec.name, app);
  }

  addProcesses(processes: readonly ClusterProcess[]): void {
    for (const p of processes) this.pids.set(p.name, p.pid);
  }

  snapshot(): Snapshot {
    const out = new Map<string, ProcSample>();
    const self = readProc(process.pid);
    if (self) out.set('bench', self);
    for (const [name, app] of this.apps) {
      const s = app.sample();
      if (s) out.set(name, s);
      // The kubelet's pod processes (sandbox setup + the command) count as its children's CPU.
      if (s && name === 'stand-in-kubelet') {
        out.set('pod processes', { ...s, cpuSeconds: s.childCpuSeconds, peakRssBytes: 0, rssBytes: 0 });
      }
    }
    for (const [name, pid] of this.pids) {
      const s = readProc(pid);
      if (s) out.set(name, s);
    }
    return out;
  }

  /** CPU seconds per process between two snapshots. */
  static cpu(before: Snapshot, after: Snapshot): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, a] of after) {
      const b = before.get(name);
      if (b) out[name] = Math.max(0, a.cpuSeconds - b.cpuSeconds);
    }
    return out;
  }

  /** Samples the RSS of the child apps every `everyMs` (for the timeline in results.json). */
  startSampling(everyMs = 1000): void {
    this.timer = setInterval(() => {
      const t = (performance.now() - this.t0) / 1000;
      for (const [name, app] of this.apps) {
        const s = app.sample();
        if (s && app.running) this.timeline.push({ t, app: name, rssMiB: s.rssBytes / 1024 / 1024 });
      }
    }, everyMs);
    this.timer.unref();
  }

  stopSampling(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
