// `npm run demo`: a local control plane with 3 simulated nodes, Redis and the stand-in kubelet,
// attached to this process; the reaper-flow apps as child processes of their built entry points;
// the examples applied; then their progress until Ctrl-C, which stops the apps, then the cluster.
// `npm run demo -- --check` runs until every example reached its expected state (exit 0) or the
// timeout (exit 1), to verify the demo non-interactively.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeClient } from '@reaper-flow/k8s';
import { applyCrds } from '../control-plane/crds';
import { groupMembers } from '../control-plane/daemon';
import { freePorts } from '../control-plane/ports';
import { REPO_ROOT, stateLayout } from '../paths';
import { addNode } from '../simulated-nodes/nodes';
import { readState } from '../state';
import {
  type AppSpec,
  killAppsNow,
  leftoverPids,
  type RunningApp,
  startApp,
  stopApps,
  waitAppsReady,
} from './demo-apps';
import {
  claimDemoDir,
  dashboardAnswers,
  kubectl,
  portIsFree,
  recordApps,
  startDemoCluster,
} from './demo-cluster';
import { type DemoNode, loadExamples, undefinedOverlays, waitsForANode } from './demo-examples';
import { followLogs, LOG_LEVEL_RANK } from './demo-logs';
import { nextSteps, watchProgress } from './demo-progress';
import { print, rel, say, seconds, style } from './demo-terminal';

const HELP = `Usage: npm run demo [-- --check] [-- --timeout SECONDS] [-- --quiet]

  (no option)   start everything, apply infra/examples, show their progress until Ctrl-C
  --check       stop once every example reached its expected state (exit 0) or at the timeout (exit 1)
  --timeout S   the --check deadline in seconds, counted from applying the examples (default 300)
  --quiet       show only warnings and errors of the apps (the log files always have everything)`;

/** `.reaper-flow/demo/` of the checkout; REAPER_FLOW_DEMO_DIR moves it (the demo's own test does). */
const DEMO_DIR = resolve(process.env.REAPER_FLOW_DEMO_DIR ?? join(REPO_ROOT, '.reaper-flow/demo'));
const NODES: readonly DemoNode[] = [
  { name: 'node-1', labels: { role: 'compute' } },
  { name: 'node-2', labels: { role: 'compute' } },
  { name: 'node-3', labels: {} },
];
const SPARE_NODE = 'node-3';
const PREFERRED_DASHBOARD_PORT = 3000;
const DASHBOARD_USER = 'admin';
const READY_TIMEOUT_MS = 180_000;
const HEARTBEAT_MS = 15_000;

interface Options {
  readonly check: boolean;
  readonly timeoutMs: number;
  readonly quiet: boolean;
}

function parseOptions(): Options | undefined {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '300' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`--timeout takes seconds > 0, got ${values.timeout}`);
  }
  return { check: values.check === true, timeoutMs, quiet: values.quiet === true };
}

/** The apps' specs: watcher, scheduler, one node agent per node; metrics ports from `ports`. */
function appSpecs(common: Record<string, string>, ports: readonly number[]): AppSpec[] {
  const at = (i: number) => ports[i] as number;
  return [
    {
      name: 'watcher',
      app: 'watcher',
      metricsPort: at(0),
      env: { ...common, METRICS_PORT: String(at(0)) },
    },
    {
      name: 'scheduler',
      app: 'scheduler',
      metricsPort: at(1),
      env: { ...common, METRICS_PORT: String(at(1)) },
    },
    ...NODES.map(
      (n, i): AppSpec => ({
        name: `node-agent-${n.name}`,
        app: 'node-agent',
        metricsPort: at(3 + i),
        env: {
          ...common,
          METRICS_PORT: String(at(3 + i)),
          NODE_NAME: n.name,
          REAPER_STATE_DIR: join(DEMO_DIR, 'nodes', n.name, 'reaper'),
        },
      }),
    ),
  ];
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (!opts) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const t0 = Date.now();
  await claimDemoDir(DEMO_DIR);
  say(
    `starting a local cluster in ${rel(DEMO_DIR)}: etcd, kube-apiserver, kube-controller-manager, Redis, stand-in kubelet`,
  );
  const cluster = await startDemoCluster(DEMO_DIR, HEARTBEAT_MS);
  const logsDir = stateLayout(DEMO_DIR).logsDir;
  const apps: RunningApp[] = [];
  let client: KubeClient | undefined;
  let stopLogs: (() => Promise<void>) | undefined;
  process.on('exit', () => killAppsNow(apps));

  let stopping: Promise<number> | undefined;
  const shutdown = (code: number, why: string): Promise<number> => {
    stopping ??= (async () => {
      say(`${why}: stopping the apps, then the cluster`);
      await stopApps(apps).catch((err: Error) => say(style.red(`stopping the apps: ${err.message}`)));
      await stopLogs?.();
      const clusterPids = ((await readState(DEMO_DIR).catch(() => undefined))?.processes ?? []).map(
        (p) => p.pid,
      );
      client?.close();
      await cluster.stop().catch((err: Error) => say(style.red(`stopping the cluster: ${err.message}`)));
      await rm(join(DEMO_DIR, 'demo.json'), { force: true });
      const left = [...leftoverPids(apps), ...clusterPids.flatMap((pid) => groupMembers(pid))];
      if (left.length > 0) {
        say(style.red(`processes still running: ${left.join(', ')}`));
        return 1;
      }
      say('everything stopped, no process left behind');
      return code;
    })();
    return stopping;
  };
  let signalledAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // The terminal's Ctrl-C reaches this process and npm, which relays it: one press arrives more
    // than once, one stop. (Run as `node --import tsx`, not through the tsx CLI: its wrapper
    // SIGKILLs a child that does not acknowledge a relayed signal within about 60 ms, which on a
    // loaded machine killed the demo before it had stopped the cluster.)
    if (signalledAt > 0) {
      if (Date.now() - signalledAt > 2000) say('still stopping: the apps get up to 12 s, then SIGKILL');
      return;
    }
    signalledAt = Date.now();
    void shutdown(opts.check ? 1 : 0, `${signal} received`).then((code) => process.exit(code));
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);

  try {
    client = await KubeClient.create({
      kubeconfigPath: cluster.kubeconfigPath,
      userAgent: 'reaper-flow-demo',
    });
    for (const node of NODES) await addNode(client, { name: node.name, labels: node.labels });
    const described = NODES.map((n) => {
      const labels = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`);
      return labels.length ? `${n.name} (${labels.join(',')})` : n.name;
    });
    say(`nodes Ready: ${described.join(', ')}`);
    say(`CRDs established: ${(await applyCrds(client, join(REPO_ROOT, 'infra/crds'))).join(', ')}`);

    const password = randomBytes(12).toString('base64url');
    const dashboardPort = (await portIsFree(PREFERRED_DASHBOARD_PORT))
      ? PREFERRED_DASHBOARD_PORT
      : ((await freePorts(1))[0] as number);
    const ports = await freePorts(3 + NODES.length);
    const common = {
      KUBECONFIG: cluster.kubeconfigPath,
      REDIS_URL: cluster.redisUrl,
      LOG_LEVEL: 'info',
      DASHBOARD_PASSWORD: password,
      DASHBOARD_PORT: String(dashboardPort),
    };
    const follow = () => {
      void stopLogs?.();
      stopLogs = followLogs(
        apps.map((a) => ({ app: a.spec.name, path: a.log })),
        {
          minLevel: (opts.quiet ? LOG_LEVEL_RANK.warn : LOG_LEVEL_RANK.info) ?? 30,
          style,
          print: (line) => process.stdout.write(`${line}\n`),
        },
      );
    };
    const launch = async (specs: readonly AppSpec[]) => {
      say(`starting ${specs.map((s) => s.name).join(', ')} (logs in ${rel(logsDir)}/)`);
      const started: RunningApp[] = [];
      for (const spec of specs) started.push(await startApp(spec, logsDir));
      apps.push(...started);
      await recordApps(DEMO_DIR, apps);
      follow();
      await waitAppsReady(started, { timeoutMs: READY_TIMEOUT_MS, heartbeatMs: HEARTBEAT_MS, say });
    };
    await launch(appSpecs(common, ports));
    if (await dashboardAnswers(dashboardPort)) {
      say(`the scheduler serves the dashboard on port ${dashboardPort}`);
    } else {
      say('the scheduler does not serve the dashboard (yet): starting apps/dashboard on its own');
      const metricsPort = ports[2] as number;
      await launch([
        {
          name: 'dashboard',
          app: 'dashboard',
          metricsPort,
          env: { ...common, METRICS_PORT: String(metricsPort) },
        },
      ]);
    }
    // bin/ holds kubectl-reaper; its history subcommand reaches the scheduler (a process here, not
    // a Pod behind a Service) at REAPER_HISTORY_URL with the dashboard's credentials.
    const envLine = [
      `export KUBECONFIG=${cluster.kubeconfigPath} REDIS_URL=${cluster.redisUrl}`,
      `PATH=${cluster.binDir}:${join(REPO_ROOT, 'bin')}:$PATH`,
      `REAPER_HISTORY_URL=http://127.0.0.1:${dashboardPort}/ REAPER_DASHBOARD_PASSWORD=${password}`,
    ].join(' ');
    await writeFile(join(DEMO_DIR, 'env.sh'), `${envLine}\n`);

    const examplesDir = join(REPO_ROOT, 'infra/examples');
    say(`applying the examples: kubectl apply -f ${rel(examplesDir)}`);
    const applied = await kubectl(cluster, ['apply', '-f', examplesDir]);
    print(applied.out, '    ');
    if (applied.code !== 0) throw new Error(`kubectl apply failed (exit ${applied.code})`);
    const examples = await loadExamples(examplesDir);
    // A workload with overlayName stays Pending until its overlay exists: create those the
    // examples use without defining them.
    for (const overlay of undefinedOverlays(examples)) {
      say(`the examples use ReaperOverlay ${overlay.name} without defining it: creating it`);
      const doc = [
        'apiVersion: reaper.io/v1alpha1',
        'kind: ReaperOverlay',
        `metadata: {name: ${overlay.name}, namespace: ${overlay.namespace}}`,
        'spec: {resetPolicy: Manual}',
      ].join('\n');
      const created = await kubectl(cluster, ['apply', '-f', '-'], doc);
      print(created.out, '    ');
      if (created.code !== 0) throw new Error(`kubectl apply failed (exit ${created.code})`);
    }
    const appliedAt = Date.now();
    print(
      nextSteps({
        cluster,
        demoDir: DEMO_DIR,
        dashboardUrl: `http://127.0.0.1:${dashboardPort}/`,
        dashboardUser: DASHBOARD_USER,
        dashboardPassword: password,
        waiting: examples.filter((ex) => waitsForANode(ex, NODES)),
      }),
    );
    const limit = opts.check ? ` (--check: at most ${seconds(opts.timeoutMs)})` : '';
    say(`up in ${seconds(Date.now() - t0)}; the examples' progress${limit}:`);
    const code = await watchProgress(client, examples, NODES, {
      check: opts.check,
      timeoutMs: opts.timeoutMs,
      appliedAt,
      apps,
      spareNode: SPARE_NODE,
      stopping: () => stopping !== undefined,
    });
    return await shutdown(code, code === 0 ? 'check passed' : 'check failed');
  } catch (err) {
    if (stopping) return stopping; // stopped by a signal while starting: not an error of its own
    say(style.red(`error: ${(err as Error).message}`));
    return shutdown(1, 'start-up failed');
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`[demo] error: ${err.message}\n`);
    process.exit(1);
  },
);
