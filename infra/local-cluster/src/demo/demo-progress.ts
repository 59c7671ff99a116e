// What the demo shows once everything runs: how to reach it, then the examples' progress.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import type { LocalCluster } from '../cluster';
import type { RunningApp } from './demo-apps';
import {
  type DemoNode,
  type Example,
  missing,
  observe,
  renderTable,
  unfinishedPods,
  waitsForANode,
} from './demo-examples';
import { print, rel, say, seconds, style } from './demo-terminal';

export interface Access {
  readonly cluster: LocalCluster;
  readonly demoDir: string;
  readonly dashboardUrl: string;
  readonly dashboardUser: string;
  readonly dashboardPassword: string;
  /** ReaperPods that wait for a node their nodeSelector matches. */
  readonly waiting: readonly Example[];
}

/** The "what to run next" block. */
export function nextSteps(a: Access): string {
  const b = style.bold;
  const labelHints = a.waiting.map((ex) => {
    const labels = Object.entries(ex.nodeSelector).map(([k, v]) => `${k}=${v}`);
    return `  kubectl label node node-3 ${labels.join(' ')}   # lets ${ex.name} run (it waits for such a node)`;
  });
  return [
    '',
    `${b('reaper-flow demo is running.')} In another terminal:`,
    '',
    `  export KUBECONFIG=${a.cluster.kubeconfigPath}`,
    `  export PATH=${a.cluster.binDir}:$PATH   # the bundled kubectl`,
    `  ${style.dim(`(or: source ${rel(join(a.demoDir, 'env.sh'))})`)}`,
    '',
    '  kubectl get reaper                          # every ReaperPod, ReaperOverlay and ReaperDaemonJob',
    '  kubectl get rdjob -w                        # DaemonJobs as they progress',
    '  kubectl describe rdjob install-packages     # per-node status, retries, events',
    '  kubectl get rovl                            # overlays (ReaperOverlay)',
    '  kubectl get rpod -o wide                    # ReaperPods, DaemonJob children included',
    '  kubectl logs hello-world                    # what a ReaperPod printed (through the API server)',
    '  kubectl logs -f -l reaper.io/daemon-job=install-packages --prefix   # a DaemonJob on every node',
    '  kubectl logs -l reaper.io/daemon-job-node=node-1 --prefix          # every DaemonJob run on node-1',
    '  kubectl annotate rdjob node-info reaper.io/trigger="$(date +%s)" --overwrite   # run node-info again',
    ...labelHints,
    '',
    `  kubectl reaper tree --nodes                 # the after DAG, one line per node (bin/kubectl-reaper, on PATH via env.sh)`,
    "  kubectl reaper logs rdjob/install-packages  # every node's output, prefixed [node]",
    '  kubectl reaper history rdjob/install-packages   # every run and attempt per node (needs env.sh: REAPER_HISTORY_URL)',
    '',
    `  ${b('Dashboard')}  ${a.dashboardUrl}   user ${b(a.dashboardUser)}   password ${b(a.dashboardPassword)}   DAG: ${a.dashboardUrl}dag?namespace=default`,
    `  ${b('Logs')}       ${rel(join(a.demoDir, 'logs'))}/  (watcher, scheduler, node-agent-node-N, kube-apiserver, ...)`,
    `  ${b('Pod logs')}   kubectl logs <name>; the files: ${rel(join(a.demoDir, 'nodes'))}/<node>/logs/ (CRI format)`,
    `  ${b('Overlays')}   ${rel(join(a.demoDir, 'nodes'))}/<node>/reaper/overlay/<namespace>/<name>/upper/`,
    `  ${b('Stop')}       Ctrl-C (stops the apps, then the cluster)`,
    '',
  ].join('\n');
}

export interface ProgressOptions {
  readonly check: boolean;
  readonly timeoutMs: number;
  readonly appliedAt: number;
  readonly apps: readonly RunningApp[];
  /** The node labelled, in --check, for ReaperPods that wait for a matching node. */
  readonly spareNode: string;
  /** True once the demo stops: the loop ends quietly (the apps and the API server go away). */
  readonly stopping: () => boolean;
}

/**
 * Prints the examples' table whenever it changes. With `check`: once every example is where it
 * should be, labels the spare node for the ReaperPods that wait for such a node (then they must
 * succeed too) and returns 0; returns 1 at the timeout, naming what is missing, or when an app
 * exits. Without `check` it runs until `stopping()` (then it returns 0).
 */
export async function watchProgress(
  client: KubeClient,
  examples: readonly Example[],
  initialNodes: readonly DemoNode[],
  opts: ProgressOptions,
): Promise<number> {
  let nodes = [...initialNodes];
  let lastTable = '';
  let allDone = false;
  for (;;) {
    if (opts.stopping()) return 0;
    const observed = await observe(client, examples).catch((err: Error) => {
      say(style.yellow(`could not read the examples: ${err.message}`));
      return undefined;
    });
    if (opts.stopping()) return 0;
    const gaps = observed ? missing(observed, nodes) : ['(examples not readable)'];
    if (observed) {
      const table = renderTable(observed, nodes, style).join('\n');
      if (table !== lastTable) {
        lastTable = table;
        const when = `${new Date().toTimeString().slice(0, 8)} +${seconds(Date.now() - opts.appliedAt)}`;
        print(`${style.dim(when)}\n${table}`);
      }
      const waiting = examples.filter((ex) => waitsForANode(ex, nodes));
      if (opts.check && gaps.length === 0 && waiting.length > 0) {
        const labels: Record<string, string> = Object.assign({}, ...waiting.map((ex) => ex.nodeSelector));
        const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
        say(
          `labelling ${opts.spareNode} ${shown.join(',')}: ${waiting.map((w) => w.name).join(', ')} can run now`,
        );
        await client.patch(Resources.nodes, opts.spareNode, 'merge', { metadata: { labels } });
        nodes = nodes.map((n) =>
          n.name === opts.spareNode ? { ...n, labels: { ...n.labels, ...labels } } : n,
        );
        continue;
      }
      if (gaps.length === 0 && !allDone) {
        allDone = true;
        const after = seconds(Date.now() - opts.appliedAt);
        say(style.green(`every example reached its expected state (${after} after they were applied)`));
        if (opts.check) return 0;
      }
    }
    for (const app of opts.apps) {
      const code = app.exited();
      if (code !== undefined && !app.reported) {
        app.reported = true;
        say(style.red(`${app.spec.name} exited (code ${code}); see ${rel(app.log)}`));
        if (opts.check) return 1;
      }
    }
    if (opts.check && Date.now() - opts.appliedAt > opts.timeoutMs) {
      await reportFailure(client, examples, gaps, opts);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function reportFailure(
  client: KubeClient,
  examples: readonly Example[],
  gaps: readonly string[],
  opts: ProgressOptions,
): Promise<void> {
  say(
    style.red(
      `check failed: not every example reached its expected state within ${seconds(opts.timeoutMs)}:`,
    ),
  );
  print(gaps.join('\n'), '    ');
  for (const ns of new Set(examples.map((e) => e.namespace))) {
    const pods = await unfinishedPods(client, ns).catch(() => []);
    if (pods.length > 0) print(`ReaperPods not Succeeded:\n${pods.map((p) => `  ${p}`).join('\n')}`, '    ');
  }
  for (const app of opts.apps) {
    const text = await readFile(app.log, 'utf8').catch(() => '');
    const problems = text
      .split('\n')
      .filter((l) => /"level":"(warn|error|fatal)"/.test(l) || (l.trim() !== '' && !l.startsWith('{')));
    if (problems.length > 0)
      say(`${app.spec.name}: ${problems.length} warning/error line(s) in ${rel(app.log)}`);
  }
}
