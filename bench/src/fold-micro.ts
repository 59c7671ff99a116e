// `npm run bench:fold`: a micro-benchmark of the DaemonJob decider alone, no cluster. For a job on
// n nodes whose run is queued everywhere, it times planReconcile (decide + apply) over the inbox
// of a whole fan-out (a StartNodeRun and a FinishNodeRun per node), once as one reconcile and once
// in reconciles of BATCH entries, and prints the time per command. Linear in the fleet, the time
// per command stays flat as n grows; quadratic, it grows with n.
import {
  initialEngineState,
  parseReaperDaemonJob,
  planReconcile,
  type ReconcileInput,
} from '@reaper-flow/domain';

const SIZES = (process.env.FOLD_SIZES ?? '250,1000,5000').split(',').map(Number);
const BATCH = 50;

const parsed = parseReaperDaemonJob({
  apiVersion: 'reaper.io/v1alpha1',
  kind: 'ReaperDaemonJob',
  metadata: { name: 'bench', namespace: 'ns', uid: 'uid-1', generation: 1 },
  spec: { command: ['/bin/true'] },
});
if (!parsed.ok) throw new Error(parsed.issues.join('; '));
const job = parsed.value as ReconcileInput['job'];
const now = new Date('2025-01-01T00:00:00.000Z');
const base = {
  job,
  inboxCursor: '0-0',
  nodesRevision: 'rev-1',
  dependencyBlock: { kind: 'none' } as const,
  now,
  newRunId: () => 'run-1',
};

type Inbox = ReconcileInput['inbox'];

function fanoutInbox(nodes: readonly string[]): Inbox {
  const at = now.toISOString();
  return nodes.flatMap((node, i) => [
    {
      id: `${2 * i + 1}-0`,
      command: { type: 'StartNodeRun', runId: 'run-1', node, attempt: 1, reaperPodName: `bench-${node}`, at },
    },
    {
      id: `${2 * i + 2}-0`,
      command: {
        type: 'FinishNodeRun',
        runId: 'run-1',
        node,
        attempt: 1,
        outcome: 'Succeeded',
        exitCode: 0,
        at,
      },
    },
  ]) as Inbox;
}

/** Milliseconds to plan the inbox in reconciles of `batch` entries. */
function timeInbox(previous: ReconcileInput['previous'], inbox: Inbox, batch: number): number {
  let state = previous;
  const t0 = performance.now();
  for (let i = 0; i < inbox.length; i += batch) {
    state = planReconcile({ ...base, previous: state, inbox: inbox.slice(i, i + batch) }).intents;
  }
  const ms = performance.now() - t0;
  const c = state.domain.counts;
  if (c.Succeeded !== inbox.length / 2)
    throw new Error(`expected every node Succeeded, got ${JSON.stringify(c)}`);
  return ms;
}

const rows: string[] = [];
for (const n of SIZES) {
  const nodes = Array.from({ length: n }, (_, i) => `node-${String(i).padStart(5, '0')}`);
  const queued = planReconcile({
    ...base,
    previous: initialEngineState,
    inbox: [],
    targets: nodes.map((name) => ({ name })),
  });
  const inbox = fanoutInbox(nodes);
  const one = timeInbox(queued.intents, inbox, inbox.length);
  const batched = timeInbox(queued.intents, inbox, BATCH);
  const us = (ms: number) => ((1000 * ms) / inbox.length).toFixed(1);
  rows.push(
    `| ${n} | ${inbox.length} | ${one.toFixed(0)} | ${us(one)} | ${batched.toFixed(0)} | ${us(batched)} |`,
  );
}
process.stdout.write(
  [
    '| nodes | commands | one reconcile, ms | µs/command | reconciles of 50, ms | µs/command |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n'),
);
