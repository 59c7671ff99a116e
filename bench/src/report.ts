// summary.md: the header, the targets side by side with what was measured, then every scenario.
import { BUILT_APP_NODE_FLAGS } from '@reaper-flow/local-cluster';
import type { Results } from './results';
import { type FanoutResult, isSchedulerProcess, type ReconcileCounts } from './scenarios/fanout';
import { fmt, type Summary, summarize } from './stats';

const MB = 1e6;
const MiB = 1024 * 1024;

type Verdict = 'met' | 'MISSED' | 'n/a';
const verdict = (ok: boolean | undefined): Verdict => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function dist(label: string, s: Summary | undefined, unit = 'ms', d = 1): string[] {
  if (!s || s.n === 0) return [label, '0', '–', '–', '–', '–', '–', '–'];
  return [
    label,
    String(s.n),
    fmt(s.min, d),
    fmt(s.p50, d),
    fmt(s.p90, d),
    fmt(s.p99, d),
    fmt(s.max, d),
    `${fmt(s.mean, d)} ${unit}`,
  ];
}
const DIST_HEAD = ['', 'n', 'min', 'p50', 'p90', 'p99', 'max', 'mean'];

/** ReaperPod reconciles per ReaperPod the run created: during the run, during its deletion, both. */
function reconcilesPerReaperPod(f: FanoutResult): { run: number; deletion: number; total: number } {
  const n = Math.max(1, f.reaperPods);
  const run = f.rpodReconciles.run / n;
  const deletion = f.rpodReconciles.deletion / n;
  return { run, deletion, total: run + deletion };
}

const largest = (fanout: readonly FanoutResult[] | undefined) =>
  fanout?.length ? fanout.reduce((a, b) => (b.nodes > a.nodes ? b : a)) : undefined;

/** The fan-out the targets are read at: 1000 nodes (the issue's size) when it ran, else the largest. */
const TARGET_SIZE = 1000;
const targetRun = (fanout: readonly FanoutResult[] | undefined) =>
  fanout?.find((f) => f.nodes === TARGET_SIZE) ?? largest(fanout);

const KiB = 1024;

/** CPU ms per node-run of `name` (summing `scheduler`, `scheduler-2`... for 'schedulers'). */
function cpuMsPerNodeRun(f: FanoutResult, name: string): number | undefined {
  const entries = Object.entries(f.cpuSeconds).filter(([n]) =>
    name === 'schedulers' ? isSchedulerProcess(n) : n === name,
  );
  return entries.length ? (entries.reduce((t, [, c]) => t + c, 0) * 1000) / f.nodes : undefined;
}

/** Cost per node-run at each fan-out size: how it grows with the fleet, and what saturates first. */
function costTable(r: Results): string[] {
  const fanout = [...(r.fanout ?? [])].sort((a, b) => a.nodes - b.nodes);
  if (!fanout.length) return [];
  const rows = fanout.map((f) => {
    const floor = r.floor?.find((x) => x.nodes === f.nodes);
    const growth = (f.redisAfter.usedMemory - f.redisBefore.usedMemory) / f.nodes / KiB;
    return [
      String(f.nodes),
      fmt(f.makespanMs),
      fmt(f.nodes / (f.makespanMs / 1000), 1),
      `${fmt(f.apiserverCpuMsPerNodeRun, 1)} (floor ${fmt(floor?.apiserverCpuMsPerNodeRun, 1)})`,
      fmt(f.engineCpuMsPerNodeRun, 1),
      fmt(cpuMsPerNodeRun(f, 'redis'), 2),
      fmt(cpuMsPerNodeRun(f, 'etcd'), 1),
      fmt((cpuMsPerNodeRun(f, 'stand-in-kubelet') ?? 0) + (cpuMsPerNodeRun(f, 'pod processes') ?? 0), 1),
      fmt(f.redisCommandsPerNodeRun, 1),
      fmt(growth, 2),
      `${fmt((f.schedulerPeakRssMiB * MiB) / MB)} / ${fmt((f.watcherPeakRssMiB * MiB) / MB)}`,
    ];
  });
  const out = [
    '## Cost per node-run as the fleet grows',
    '',
    table(
      [
        'nodes',
        'makespan ms',
        'node-runs per s',
        'API server CPU ms',
        'scheduler(s) + watcher CPU ms',
        'Redis CPU ms',
        'etcd CPU ms',
        'stand-in kubelet + pods CPU ms',
        'Redis commands',
        'Redis used_memory growth, KiB (idle after vs before the run)',
        'peak RSS so far, scheduler / watcher MB',
      ],
      rows,
    ),
    '',
    "CPU: utime+stime of each process between the apply and the engine being idle, per node-run; the API server's own " +
      "process_cpu_seconds_total, beside the floor's. The Redis growth is what the run leaves at idle (the job's history log, " +
      "retained completed jobs, node-run progress) before its deletion. Peak RSS is each process's VmHWM since it started.",
    '',
  ];
  // Where the 2 cores went during the largest run: the first limit a bigger fleet meets.
  const big = fanout[fanout.length - 1] as FanoutResult;
  const seconds = big.makespanMs / 1000;
  const busiest = Object.entries(big.cpuSeconds)
    .filter(([n]) => n !== 'bench')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5);
  out.push(
    `CPU between apply and idle at ${big.nodes} nodes (the run took ${fmt(seconds, 1)} s to Completed): ` +
      busiest.map(([n, c]) => `${n} ${fmt(c, 1)} s (${fmt(c / seconds, 2)} cores)`).join(', ') +
      `. The machine has ${r.header.cores} cores.`,
    '',
  );
  return out;
}

/** The fan-out at one size with one scheduler replica and with two. */
function schedulersTable(r: Results): string[] {
  const s = r.schedulers;
  if (!s) return [];
  const row = (f: FanoutResult) => [
    String(f.schedulers),
    fmt(f.makespanMs),
    `${fmt(f.stages.rpodToPod.p50)} / ${fmt(f.stages.mirror.p50)}`,
    fmt(cpuMsPerNodeRun(f, 'schedulers'), 1),
    fmt(cpuMsPerNodeRun(f, 'watcher'), 1),
    fmt(f.apiserverCpuMsPerNodeRun, 1),
    fmt(f.schedulerWritesPerNodeRun, 2),
    String(f.djobStatusWrites),
    fmt(reconcilesPerReaperPod(f).total, 2),
    Object.entries(f.schedulerPeaksMiB ?? {})
      .map(([n, v]) => `${n} ${fmt((v * MiB) / MB)}`)
      .join(', '),
  ];
  return [
    `## Two scheduler replicas against one (fan-out of ${s.one.nodes} nodes)`,
    '',
    table(
      [
        'scheduler replicas',
        'makespan ms',
        'p50 ReaperPod -> Pod / Pod -> ReaperPod status, ms',
        'schedulers CPU ms per node-run',
        'watcher CPU ms per node-run',
        'API server CPU ms per node-run',
        'scheduler writes per node-run',
        'DaemonJob status writes',
        'ReaperPod reconciles per ReaperPod',
        'peak RSS (VmHWM since start), MB',
      ],
      [row(s.one), row(s.two)],
    ),
    '',
    `Makespan two / one: ${(s.two.makespanMs / s.one.makespanMs).toFixed(2)}x. Both replicas take jobs from the same queues ` +
      '(one reconcile per key at a time, by the queue); a second replica doubles the worker concurrency (node-runs, ReaperPod ' +
      'reconciles) and the pod-create rate (rollout.podCreatesPerSecond is per scheduler), on the same cores as everything else here.',
    '',
  ];
}

export function renderSummary(r: Results): string {
  const h = r.header;
  const out: string[] = [];
  out.push(`# reaper-flow benchmark, ${h.startedAt} (${h.mode})`, '');
  out.push(
    table(
      ['machine', 'value'],
      [
        ['CPU', `${h.cores} cores, ${h.cpuModel}`],
        ['memory', `${h.memoryGiB.toFixed(1)} GiB`],
        ['load average at start (1/5/15 min)', h.loadAvgAtStart.map((l) => l.toFixed(2)).join(' / ')],
        ['Node.js', h.node],
        ['Kubernetes', h.kubernetes],
        ['Redis', h.redis],
        [
          'reaper-flow commit',
          `${h.gitCommit}${h.gitDirtyFiles ? ` (+${h.gitDirtyFiles} changed files in the work tree)` : ''}`,
        ],
        ['cluster', h.cluster],
        ['pods on the simulated nodes', `${h.pods}, running /bin/true`],
        ['duration', `${r.durationS.toFixed(0)} s`],
      ],
    ),
    '',
  );
  out.push(
    'Engine configuration: bench settings `' +
      Object.entries(r.engineEnv)
        .filter(([k]) => k.startsWith('REAPER_FLOW__'))
        .map(([k, v]) => `${k.replace('REAPER_FLOW__', '')}=${v}`)
        .join(' ') +
      `\`; kubernetes.maxSockets ${r.effective.maxSockets}, node-run concurrency ${r.effective.nodeRunConcurrency}, ` +
      `rollout.podCreatesPerSecond ${r.effective.podCreatesPerSecond}, status.coalesceMs ${r.effective.coalesceMs}. ` +
      `Watcher and scheduler run as \`node ${[...BUILT_APP_NODE_FLAGS, ...((r.options.appNodeFlags as readonly string[] | undefined) ?? [])].join(' ')} dist/<app>/main.js\`. ` +
      'Timings are wall-clock on a shared machine: other test runs may have competed for the 2 cores.',
    '',
  );

  // Targets
  const big = targetRun(r.fanout);
  const floorOf = (n: number) => r.floor?.find((f) => f.nodes === n);
  const ratio = big && floorOf(big.nodes) ? big.makespanMs / (floorOf(big.nodes)?.ms ?? 1) : undefined;
  const statusPer50 = big ? big.djobStatusWrites / (big.nodes / 50) : undefined;
  const rssMB = big ? (big.schedulerPeakRssMiB * MiB) / MB : undefined;
  const watcherRssMB = big ? (big.watcherPeakRssMiB * MiB) / MB : undefined;
  const oursCpuMs = big?.engineCpuMsPerNodeRun;
  const start = r.redisMemory.start?.usedMemory;
  // The same world on both sides: the start already holds the fan-out pool's nodes, so the reading
  // after the scenarios (their jobs deleted, retention run, the nodes still there) is compared.
  const end = r.redisMemory.afterScenarios?.usedMemory ?? r.redisMemory.afterNodesDeleted?.usedMemory;
  const redisNear = start !== undefined && end !== undefined ? end - start <= MiB : undefined;
  const at = big ? ` at ${big.nodes} nodes` : '';
  const bigFloor = big ? floorOf(big.nodes) : undefined;
  const apiCpu = big?.apiserverCpuMsPerNodeRun;
  const floorCpu = bigFloor?.apiserverCpuMsPerNodeRun;
  const cpuRatio = apiCpu !== undefined && floorCpu ? apiCpu / floorCpu : undefined;
  const perRpod = big ? reconcilesPerReaperPod(big) : undefined;
  // The targets of issue 13 (fleet-scale performance), beside the older API-write targets.
  out.push('## Targets (reported, not asserted)', '');
  out.push(
    table(
      ['metric', 'measured', 'target', ''],
      [
        [
          "handoff p99 (dependency Completed -> dependent's first ReaperPod)",
          `${fmt(r.handoff?.summary.p99, 1)} ms`,
          '<= 30 ms',
          verdict(r.handoff ? r.handoff.summary.p99 <= 30 : undefined),
        ],
        [
          'node-join p99 (Node Ready -> its ReaperPod)',
          `${fmt(r.nodeJoin?.fromReady.p99, 1)} ms`,
          '<= 30 ms',
          verdict(r.nodeJoin ? r.nodeJoin.fromReady.p99 <= 30 : undefined),
        ],
        [
          `fan-out makespan / API floor${at}`,
          ratio === undefined
            ? '–'
            : `${ratio.toFixed(2)}x (${fmt(big?.makespanMs)} / ${fmt(floorOf(big?.nodes ?? 0)?.ms)} ms)`,
          '<= 1.5x at 1000 nodes',
          verdict(ratio === undefined ? undefined : ratio <= 1.5),
        ],
        [
          `API server CPU per node-run / the floor's${at}`,
          cpuRatio === undefined
            ? '–'
            : `${cpuRatio.toFixed(2)}x (${fmt(apiCpu, 1)} / ${fmt(floorCpu, 1)} ms)`,
          "<= 1.5x the floor's at 1000 nodes",
          verdict(cpuRatio === undefined ? undefined : cpuRatio <= 1.5),
        ],
        [
          `scheduler + watcher CPU per node-run${at}`,
          `${fmt(oursCpuMs, 1)} ms`,
          '<= 12 ms at 1000 nodes',
          verdict(oursCpuMs === undefined ? undefined : oursCpuMs <= 12),
        ],
        [
          `ReaperPod reconciles per ReaperPod (run + its deletion)${at}`,
          perRpod === undefined
            ? '–'
            : `${fmt(perRpod.total, 2)} (${fmt(perRpod.run, 2)} + ${fmt(perRpod.deletion, 2)})`,
          '<= 2.5',
          verdict(perRpod === undefined ? undefined : perRpod.total <= 2.5),
        ],
        [
          `API writes per node-run, run objects, all clients${at}`,
          fmt(big?.runObjectWritesPerNodeRun, 2),
          '<= 4',
          verdict(big ? big.runObjectWritesPerNodeRun <= 4 : undefined),
        ],
        [
          `API writes per node-run, scheduler only${at}`,
          fmt(big?.schedulerWritesPerNodeRun, 2),
          '<= 4',
          verdict(big ? big.schedulerWritesPerNodeRun <= 4 : undefined),
        ],
        [
          `DaemonJob status writes per 50 node-runs${at}`,
          `${fmt(statusPer50, 2)} (${big?.djobStatusWrites ?? '–'} writes)`,
          '<= 1 at 1000 nodes',
          verdict(statusPer50 === undefined ? undefined : statusPer50 <= 1),
        ],
        [
          `scheduler peak RSS (VmHWM)${at}`,
          `${fmt(rssMB)} MB`,
          '<= 120 MB at 1000 nodes',
          verdict(rssMB === undefined ? undefined : rssMB <= 120),
        ],
        [
          `watcher peak RSS (VmHWM)${at}`,
          `${fmt(watcherRssMB)} MB`,
          '<= 120 MB at 1000 nodes',
          verdict(watcherRssMB === undefined ? undefined : watcherRssMB <= 120),
        ],
        [
          "Redis used_memory after retention (the scenarios' jobs deleted, the nodes still there) vs start",
          start === undefined || end === undefined
            ? '–'
            : `${fmt(end / MiB, 1)} MiB vs ${fmt(start / MiB, 1)} MiB (${end >= start ? '+' : ''}${fmt((end - start) / MiB, 2)} MiB)`,
          'within +1 MiB of the start',
          verdict(redisNear),
        ],
      ],
    ),
    '',
  );

  if (r.handoff) {
    const ho = r.handoff;
    out.push(`## Handoff latency (${ho.reps} repetitions of a -> b -> c on ${ho.nodes} nodes), ms`, '');
    out.push(
      table(DIST_HEAD, [
        dist('all handoffs', ho.summary),
        dist('a -> b', summarize(ho.samples.filter((s) => s.edge === 'a->b').map((s) => s.ms))),
        dist('b -> c', summarize(ho.samples.filter((s) => s.edge === 'b->c').map((s) => s.ms))),
        dist('whole chain (apply -> c Completed)', summarize(ho.chainMs), 'ms', 0),
      ]),
      '',
      "t0 = the bench's watch delivers the dependency's `status.phase: Completed`; t1 = the watch delivers the ADDED of the dependent's first ReaperPod.",
      '',
    );
  }
  if (r.nodeJoin) {
    const nj = r.nodeJoin;
    out.push(`## Node join and reboot latency, ms`, '');
    out.push(
      table(DIST_HEAD, [
        dist('join: Ready -> ReaperPod ADDED', nj.fromReady),
        dist('join: Ready and untainted -> ReaperPod ADDED', nj.fromSchedulable),
        dist("reboot: Ready with new bootID -> new run's ReaperPod ADDED", nj.rebootFromReady),
        dist('reboot: Ready, new bootID, untainted -> ReaperPod ADDED', nj.rebootFromSchedulable),
      ]),
      '',
      'A new Node carries the API server\'s `node.kubernetes.io/not-ready:NoSchedule` taint until the simulated kubelet (addNode) removes it with a second write; DaemonSet semantics do not place work on it before that, so the "untainted" rows are the engine\'s own share.',
      '',
    );
  }
  if (r.retry) {
    const rt = r.retry;
    out.push(
      `## Retry (${rt.nodes} node(s) x ${rt.failuresPerNode} injected failure(s); backoff ${r.effective.retry.baseMs} ms x ${r.effective.retry.factor}^(n-1), jitter ${r.effective.retry.jitter}), ms`,
      '',
    );
    out.push(
      table(DIST_HEAD, [
        dist("Failed seen -> next attempt's ReaperPod ADDED", rt.measured),
        dist('overhead = measured - configured backoff', rt.overhead),
      ]),
      '',
    );
  }
  if (r.fanout?.length || r.floor?.length) {
    out.push('## Fan-out makespan vs the API floor', '');
    const sizes = [
      ...new Set([...(r.fanout ?? []).map((f) => f.nodes), ...(r.floor ?? []).map((f) => f.nodes)]),
    ].sort((a, b) => a - b);
    out.push(
      table(
        [
          'nodes',
          'engine makespan ms',
          'first ReaperPod ms',
          'last ReaperPod ms',
          'last Succeeded ms',
          'API floor ms',
          'engine / floor',
          'create throttle bound ms',
        ],
        sizes.map((n) => {
          const f = r.fanout?.find((x) => x.nodes === n);
          const fl = r.floor?.find((x) => x.nodes === n);
          const bound = Math.max(
            0,
            ((n - r.effective.podCreatesPerSecond) / r.effective.podCreatesPerSecond) * 1000,
          );
          return [
            String(n),
            fmt(f?.makespanMs),
            fmt(f?.firstPodMs),
            fmt(f?.lastPodMs),
            fmt(f?.lastSucceededMs),
            fmt(fl?.ms),
            f && fl ? `${(f.makespanMs / fl.ms).toFixed(2)}x` : '–',
            fmt(bound),
          ];
        }),
      ),
      '',
      `Makespan: the create request of the DaemonJob is sent -> the bench's watch delivers \`phase: Completed\` with every node ready. ` +
        `API floor (like for like): one KubeClient (maxSockets ${r.effective.maxSockets}), ${r.floor?.[0]?.concurrency ?? r.effective.nodeRunConcurrency} nodes in flight (the scheduler's node-run concurrency), ` +
        'no Redis, no queues: the DaemonJob create, per node create ReaperPod -> create its Pod (pinned by nodeName, runtimeClassName reaper-v2) -> ' +
        'the same stand-in kubelet runs it on the same pool node (seen on one Pod watch) -> ReaperPod status, then one DaemonJob status write; ' +
        'in its own namespace before the engine started. ' +
        `Create throttle bound: the time rollout.podCreatesPerSecond=${r.effective.podCreatesPerSecond} alone imposes (its bucket starts full).`,
      '',
    );
    const both = sizes.flatMap((n) => {
      const f = r.fanout?.find((x) => x.nodes === n);
      const fl = r.floor?.find((x) => x.nodes === n);
      return f && fl ? [{ n, f, fl }] : [];
    });
    if (both.length) {
      const x = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : '–');
      const pair = (a: number, b: number) => `${fmt(a, 2)} / ${fmt(b, 2)} (${x(a, b)})`;
      out.push('Engine / like-for-like floor, per node-run (engine / floor (ratio)), one run:', '');
      out.push(
        table(
          [
            'nodes',
            'makespan ms',
            'API reads, all clients',
            'API writes, all clients',
            'watch events sent',
            'reads: scheduler + watcher / floor client',
            'writes: scheduler + watcher / floor client',
            'watches opened: scheduler + watcher / floor client',
            "API server CPU ms (target <= 1.5x the floor's)",
            'ReaperPod reconciles per ReaperPod, run + deletion (target <= 2.5; the floor: none)',
          ],
          both.map(({ n, f, fl }) => {
            const ours = f.byClient.filter((c) => c.client === 'scheduler' || c.client === 'watcher');
            const sum = (k: 'reads' | 'writes' | 'watches') => ours.reduce((t, c) => t + c.kinds[k], 0);
            return [
              String(n),
              `${fmt(f.makespanMs)} / ${fmt(fl.ms)} (${x(f.makespanMs, fl.ms)})`,
              pair(f.apiKinds.reads, fl.apiKinds.reads),
              pair(f.apiKinds.writes, fl.apiKinds.writes),
              pair(f.watchEventsPerNodeRun, fl.watchEventsPerNodeRun),
              pair(sum('reads'), fl.clientKinds.reads),
              pair(sum('writes'), fl.clientKinds.writes),
              pair(sum('watches'), fl.clientKinds.watches),
              f.apiserverCpuMsPerNodeRun === undefined || fl.apiserverCpuMsPerNodeRun === undefined
                ? '–'
                : pair(f.apiserverCpuMsPerNodeRun, fl.apiserverCpuMsPerNodeRun),
              (() => {
                const r = reconcilesPerReaperPod(f);
                return `${fmt(r.total, 2)} (${fmt(r.run, 2)} + ${fmt(r.deletion, 2)})`;
              })(),
            ];
          }),
        ),
        '',
        'All clients: apiserver_request_total between apply and idle (engine) or over the floor round, the stand-in kubelet, ' +
          "controller manager and kube-scheduler included; reads are GET and LIST. The engine's watches are open before the apply " +
          '(they count only when one is re-opened); the floor opens one Pod watch (and its LIST) per round. Watch events: ' +
          "apiserver_watch_events_total, every watcher of every resource, less the events the bench's own watches received during the engine's run " +
          `(${both.map(({ n, f }) => `${fmt(f.benchWatchEventsPerNodeRun, 1)} per node-run at ${n} nodes`).join(', ')}; the floor has no such watches). ` +
          "API server CPU: its process_cpu_seconds_total over the same windows; the engine's window also holds the wait until the engine is idle, " +
          'where the API server still serves leases and heartbeats (a fixed cost that weighs most at small sizes). ' +
          'ReaperPod reconciles: the scheduler\'s reaper_reconciles_total{kind="ReaperPod"} over the run (apply -> idle) plus over its deletion (delete -> idle), per ReaperPod created.',
        '',
      );
    }
  }
  if (r.fanout?.length) {
    const cell = (x: Summary) => `${fmt(x.p50)} / ${fmt(x.p90)} / ${fmt(x.max)}`;
    out.push("Where a node's time goes during a fan-out (p50 / p90 / max ms, on the bench's watches):", '');
    out.push(
      table(
        [
          'nodes',
          'ReaperPod ADDED -> its Pod ADDED (ReaperPod reconcile)',
          'Pod ADDED -> Pod Succeeded (stand-in kubelet)',
          'Pod Succeeded -> ReaperPod Succeeded (status mirror)',
          'last ReaperPod Succeeded -> job Completed',
          'stalled (all Succeeded, node-runs still parked)',
        ],
        r.fanout.map((f) => [
          String(f.nodes),
          cell(f.stages.rpodToPod),
          cell(f.stages.podRun),
          cell(f.stages.mirror),
          fmt(f.stages.lastSucceededToCompletedMs),
          f.stalled
            ? `${f.stalled.parked} parked at ${fmt(f.stalled.atMs)} ms, next due in ${fmt(f.stalled.nextDueInMs)} ms`
            : 'no',
        ]),
      ),
      '',
    );
  }
  out.push(...costTable(r), ...schedulersTable(r));
  if (r.fanout?.length) {
    out.push('## ReaperPod reconciles by cause (per ReaperPod: run + deletion)', '');
    for (const f of r.fanout) {
      const n = Math.max(1, f.reaperPods);
      const per = (x: { run: number; deletion: number }) =>
        `${fmt((x.run + x.deletion) / n, 2)} (${fmt(x.run / n, 2)} + ${fmt(x.deletion / n, 2)})`;
      const causes = [...new Set([...f.rpodReconciles.by, ...f.rpodRequests.by].map((c) => c.label))].sort();
      const find = (c: ReconcileCounts, label: string) =>
        c.by.find((x) => x.label === label) ?? { run: 0, deletion: 0 };
      out.push(
        `${f.nodes} nodes, ${f.reaperPods} ReaperPods:`,
        '',
        table(
          ['cause', 'reconciles (scheduler)', 'requests (watcher, before coalescing)'],
          [
            ...causes.map((c) => [c, per(find(f.rpodReconciles, c)), per(find(f.rpodRequests, c))]),
            ['all', per(f.rpodReconciles), per(f.rpodRequests)],
          ],
        ),
        '',
      );
      if (f.rpodSkips.by.length) {
        out.push(
          table(
            ['skipped by the watcher: change, reason', 'per ReaperPod'],
            f.rpodSkips.by.map((s) => [s.label, per(s)]),
          ),
          '',
        );
      }
    }
    out.push(
      "A reconcile's cause is the change (or the scheduler's reason) whose request made its job: requests that arrive while it waits are absorbed by it, " +
        "so requests minus reconciles is what the queue coalesced. Skipped: changes the watcher did not turn into a request because they cannot change the reconcile's outcome (apps/watcher/src/mapper.ts says why for each reason).",
      '',
    );
    out.push('## API economy (per node-run, between apply and idle)', '');
    out.push(
      table(
        [
          'nodes',
          'writes, all clients',
          'writes on run objects',
          'scheduler writes',
          'DaemonJob status writes (API server / scheduler counter)',
          'per 50 node-runs',
        ],
        r.fanout.map((f) => [
          String(f.nodes),
          fmt(f.writesPerNodeRun, 2),
          fmt(f.runObjectWritesPerNodeRun, 2),
          fmt(f.schedulerWritesPerNodeRun, 2),
          `${f.djobStatusWrites} / ${f.djobStatusWritesScheduler}`,
          fmt(f.djobStatusWrites / (f.nodes / 50), 2),
        ]),
      ),
      '',
      'Run objects: reaperpods, pods, reaperdaemonjobs, events (writes on leases, nodes and configmaps are heartbeats and the fault switch). ' +
        "All clients include the stand-in kubelet's Pod status writes.",
      '',
    );
    if (big) {
      out.push(`Requests counted by the API server (apiserver_request_total) at ${big.nodes} nodes:`, '');
      out.push(
        table(
          ['request', 'count', 'per node-run'],
          big.api.slice(0, 25).map((a) => [a.request, String(a.count), fmt(a.perNodeRun, 3)]),
        ),
        '',
        `The scheduler's own requests (reaper_kube_api_requests_total) at ${big.nodes} nodes:`,
        '',
        table(
          ['request', 'count', 'per node-run'],
          big.schedulerApi.map((a) => [a.request, String(a.count), fmt(a.perNodeRun, 3)]),
        ),
        '',
      );
    }
    out.push('## Redis', '');
    out.push(
      table(
        [
          'nodes',
          'commands per node-run',
          'top commands (calls per node-run)',
          'used_memory at idle after the run',
          'after deleting its job',
        ],
        r.fanout.map((f) => [
          String(f.nodes),
          fmt(f.redisCommandsPerNodeRun, 1),
          f.redisCommands
            .slice(0, 6)
            .map((c) => `${c.command} ${fmt(c.perNodeRun, 1)}`)
            .join(', '),
          `${fmt(f.redisAfter.usedMemory / MiB, 1)} MiB`,
          `${fmt(f.redisAfterDelete.usedMemory / MiB, 1)} MiB`,
        ]),
      ),
      '',
    );
  }
  const rm = r.redisMemory;
  if (rm.start) {
    out.push(
      table(
        ['Redis used_memory', 'MiB', 'keys'],
        [
          [
            'start (engine ready, before the scenarios)',
            fmt(rm.start.usedMemory / MiB, 2),
            String(rm.start.keys),
          ],
          ...(rm.afterScenarios
            ? [
                [
                  'after the scenarios (their jobs deleted, retention run)',
                  fmt(rm.afterScenarios.usedMemory / MiB, 2),
                  String(rm.afterScenarios.keys),
                ],
              ]
            : []),
          ...(rm.afterNodesDeleted
            ? [
                [
                  "after deleting the bench's nodes too",
                  fmt(rm.afterNodesDeleted.usedMemory / MiB, 2),
                  String(rm.afterNodesDeleted.keys),
                ],
              ]
            : []),
          [
            'peak (used_memory_peak)',
            fmt((rm.afterNodesDeleted ?? rm.afterScenarios ?? rm.start).usedMemoryPeak / MiB, 2),
            '',
          ],
        ],
      ),
      '',
    );
    if (rm.byClassAtEnd?.length) {
      out.push("What remains under the engine's prefix at the end (MEMORY USAGE by key class):", '');
      out.push(
        table(
          ['key class', 'keys', 'KiB', 'keys at start', 'KiB at start'],
          rm.byClassAtEnd.slice(0, 15).map((c) => {
            const s = rm.byClassAtStart?.find((x) => x.cls === c.cls);
            return [
              c.cls,
              String(c.keys),
              fmt(c.bytes / 1024, 1),
              String(s?.keys ?? 0),
              fmt((s?.bytes ?? 0) / 1024, 1),
            ];
          }),
        ),
        '',
      );
    }
  }

  out.push('## Resources', '');
  out.push(
    table(
      ['process', 'peak RSS (VmHWM) MiB', 'CPU seconds (whole run)'],
      Object.entries(r.resources.apps).map(([name, a]) => [
        name,
        a.peakRssMiB > 0 ? fmt(a.peakRssMiB, 1) : '–',
        fmt(a.cpuSeconds, 1),
      ]),
    ),
    '',
  );
  const scen = Object.entries(r.resources.cpuByScenario);
  if (scen.length) {
    const procs = [...new Set(scen.flatMap(([, v]) => Object.keys(v)))];
    out.push('CPU seconds per scenario and process:', '');
    out.push(
      table(
        ['scenario', ...procs],
        scen.map(([s, v]) => [s, ...procs.map((p) => fmt(v[p], 1))]),
      ),
      '',
    );
  }
  if (r.profile?.length) {
    out.push('## CPU profile', '');
    for (const p of r.profile) out.push(`### ${p.file}`, '', p.summary, '');
  }
  if (r.warnings.length) {
    out.push('## Warnings', '', ...r.warnings.map((w) => `- ${w}`), '');
  }
  out.push('Every sample is in results.json; latency.png plots the distributions.', '');
  return out.join('\n');
}
