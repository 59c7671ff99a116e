// A DaemonJob snapshot as the release before format versions wrote it (no `v`): one job, generation
// 2, a run on two nodes (one succeeded, one running its second attempt), a flow and a delete still
// pending. Kept as literal text: the tests of today's reader must keep reading it.
export const PREVIOUS_RELEASE_SNAPSHOT = JSON.stringify({
  state: {
    domain: {
      spec: {
        generation: 2,
        after: ['setup'],
        retryLimit: 2,
        concurrencyPolicy: 'Skip',
        triggerOn: 'NodeReady',
        suspend: false,
        runSpecHash: 'a1b2c3',
      },
      observedGeneration: 2,
      generationRunStarted: true,
      block: { kind: 'none' },
      lastTriggerValue: 'manual-1',
      lastRun: { runId: 'r1', reason: 'SpecChanged', generation: 2, at: '2026-01-01T00:00:00.000Z' },
      recentRunIds: ['r0', 'r1'],
      nodes: {
        'node-a': {
          phase: 'Succeeded',
          runId: 'r1',
          attempt: 1,
          retryCount: 0,
          exitCode: 0,
          reaperPodName: 'job-node-a',
          bootId: 'boot-a',
          lastTransitionAt: '2026-01-01T00:00:05.000Z',
        },
        constructor: {
          phase: 'Running',
          runId: 'r1',
          attempt: 2,
          retryCount: 1,
          reaperPodName: 'job-constructor',
          bootId: 'boot-c',
          lastTransitionAt: '2026-01-01T00:00:09.000Z',
        },
      },
      counts: { Idle: 0, Queued: 0, Running: 1, RetryWaiting: 0, Succeeded: 1, Failed: 0, needsRun: 0 },
      conditions: {
        Progressing: { status: 'True', since: '2026-01-01T00:00:00.000Z' },
        Complete: { status: 'False', since: '2026-01-01T00:00:00.000Z' },
      },
      version: 9,
    },
    pendingFlows: [{ runId: 'r1', generation: 2, nodes: ['node-a', 'constructor'] }],
    pendingDeletes: [{ name: 'job-constructor', runId: 'r1', attempt: 1 }],
    leftNodePods: ['job-node-gone'],
    targetsSeenAt: { nodesRevision: '17', generation: 2 },
    lastWrittenPhase: 'Running',
    progressIndexed: true,
  },
  inboxCursor: '1767225609000-0',
  lastStatusWriteAt: 1767225609000,
  lastStatusHash: 'f00d',
  uid: 'uid-1',
  version: 4,
});
