import { describe, expect, it } from 'vitest';
import { BUSY_REQUEUE_MS, decideOverlay, MAX_LISTED, type OverlayDecisionInput } from './decide';

const NOW = '2026-03-01T10:00:00Z';
const base = { namespace: 'ns', name: 'slurm', uid: 'ovl-uid-1' };

function input(over: {
  overlay?: Partial<OverlayDecisionInput['overlay']>;
  nodes?: string[];
  entries?: OverlayDecisionInput['entries'];
  busy?: Record<string, string[]>;
  resetRequests?: string[];
}): OverlayDecisionInput {
  return {
    overlay: {
      ...base,
      resetPolicy: 'Manual',
      resetGeneration: 0,
      deleting: false,
      hasFinalizer: true,
      ...over.overlay,
    },
    nodes: over.nodes ?? ['node-1', 'node-2'],
    entries: over.entries ?? [],
    busy: new Map(Object.entries(over.busy ?? {})),
    resetRequests: over.resetRequests ?? [],
    now: NOW,
  };
}

const ready = (nodeName: string, resetGeneration = 0) => ({ nodeName, ready: true, resetGeneration });

describe('decideOverlay: Ready (PVC-like)', () => {
  it('is Ready on first sight with observedResetGeneration 0, asks for the finalizer and an ensure per node', () => {
    const d = decideOverlay(input({ overlay: { hasFinalizer: false } }));
    expect(d.status).toMatchObject({
      phase: 'Ready',
      observedResetGeneration: 0,
      message: 'ready on 2 nodes',
    });
    expect(d.addFinalizer).toBe(true);
    expect(d.jobs).toEqual([
      { node: 'node-1', job: { ...base, op: 'ensure', generation: 0, requestId: 'gen-0' } },
      { node: 'node-2', job: { ...base, op: 'ensure', generation: 0, requestId: 'gen-0' } },
    ]);
    expect(d.status?.conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Ready',
        message: 'ready on 2 nodes',
        lastTransitionTime: NOW,
      },
    ]);
  });

  it('enqueues no ensure on a node whose agent already reports the overlay ready', () => {
    const d = decideOverlay(input({ entries: [ready('node-1')] }));
    expect(d.jobs.map((j) => j.node)).toEqual(['node-2']);
  });

  it('deciding again on the same input gives the same decision (idempotent)', () => {
    const i = input({ entries: [ready('node-1')], overlay: { observedResetGeneration: 0, phase: 'Ready' } });
    expect(decideOverlay(i)).toEqual(decideOverlay(i));
  });
});

describe('decideOverlay: resetGeneration', () => {
  it('a resetGeneration above the observed one starts a reset on every node with requestId gen-<n>', () => {
    const d = decideOverlay(
      input({
        overlay: { resetGeneration: 1, observedResetGeneration: 0, phase: 'Ready' },
        entries: [ready('node-1')],
      }),
    );
    expect(d.status).toMatchObject({ phase: 'Resetting', observedResetGeneration: 0 });
    expect(d.status?.message).toBe('resetting to generation 1: 0/2 nodes done');
    expect(d.jobs).toEqual([
      { node: 'node-1', job: { ...base, op: 'reset', generation: 1, requestId: 'gen-1' } },
      { node: 'node-2', job: { ...base, op: 'reset', generation: 1, requestId: 'gen-1' } },
    ]);
    expect(d.transitionEvents.map((e) => e.reason)).toEqual(['ResetStarted']);
    expect(d.requeueAfterMs).toBeUndefined();
  });

  it('does not reset a node where a workload using the overlay runs, says so and looks again soon', () => {
    const d = decideOverlay(
      input({
        overlay: { resetGeneration: 2, observedResetGeneration: 1, phase: 'Resetting' },
        busy: { 'node-2': ['install-slurm', 'train'] },
      }),
    );
    expect(d.jobs.map((j) => j.node)).toEqual(['node-1']);
    expect(d.status?.message).toBe(
      'resetting to generation 2: 0/2 nodes done; node-2 waits for ReaperPod install-slurm, train',
    );
    expect(d.requeueAfterMs).toBe(BUSY_REQUEUE_MS);
    expect(d.transitionEvents).toEqual([]);
  });

  it('is Ready with observedResetGeneration advanced once every current node reports the generation', () => {
    const d = decideOverlay(
      input({
        overlay: { resetGeneration: 2, observedResetGeneration: 1, phase: 'Resetting' },
        entries: [
          ready('node-1', 2),
          ready('node-2', 3),
          { nodeName: 'gone-node', ready: true, resetGeneration: 0 },
        ],
      }),
    );
    expect(d.status).toMatchObject({
      phase: 'Ready',
      observedResetGeneration: 2,
      message: 'reset to generation 2 on 2 nodes',
    });
    expect(d.jobs).toEqual([]);
    expect(d.transitionEvents.map((e) => e.reason)).toEqual(['ResetCompleted']);
  });

  it('waits for a node that has not reported (agent away) instead of declaring the reset done', () => {
    const d = decideOverlay(
      input({ overlay: { resetGeneration: 1, phase: 'Resetting' }, entries: [ready('node-1', 1)] }),
    );
    expect(d.status).toMatchObject({ phase: 'Resetting', observedResetGeneration: 0 });
    expect(d.status?.message).toBe('resetting to generation 1: 1/2 nodes done');
    expect(d.jobs.map((j) => j.node)).toEqual(['node-2']);
  });

  it('is Failed, naming the node and the error, while an agent reports the reset failed for good', () => {
    const d = decideOverlay(
      input({
        overlay: { resetGeneration: 1, phase: 'Resetting' },
        entries: [
          { nodeName: 'node-1', ready: false, resetGeneration: 0, message: 'reset failed: disk full' },
          ready('node-2', 1),
        ],
      }),
    );
    expect(d.status).toMatchObject({
      phase: 'Failed',
      observedResetGeneration: 0,
      message: 'reset to generation 1 failed on 1 of 2 nodes; node-1: reset failed: disk full',
    });
    expect(d.transitionEvents.map((e) => `${e.type}/${e.reason}`)).toEqual(['Warning/ResetFailed']);
  });

  it('shows an ensure failure while staying Ready (the other nodes can use the overlay)', () => {
    const d = decideOverlay(
      input({
        entries: [ready('node-1'), { nodeName: 'node-2', ready: false, message: 'ensure failed: EACCES' }],
      }),
    );
    expect(d.status).toMatchObject({
      phase: 'Ready',
      message: 'ready on 2 nodes; node-2: ensure failed: EACCES',
    });
  });

  it('keeps per-node reset requests while a full reset runs', () => {
    const d = decideOverlay(
      input({ overlay: { resetGeneration: 1, resetPolicy: 'OnFailure' }, resetRequests: ['node-1|uid-a'] }),
    );
    expect(d.removeRequests).toEqual([]);
  });
});

describe('decideOverlay: per-node reset requests', () => {
  const requests = ['node-1|uid-a', 'node-2|uid-b', 'node-9|uid-c', 'garbage'];

  it('OnFailure / OnDelete: a reset at the observed generation keyed by the workload uid, then removed', () => {
    for (const resetPolicy of ['OnFailure', 'OnDelete'] as const) {
      const d = decideOverlay(
        input({
          overlay: { resetPolicy, resetGeneration: 1, observedResetGeneration: 1, phase: 'Ready' },
          entries: [ready('node-1', 1), ready('node-2', 1)],
          resetRequests: requests,
        }),
      );
      expect(d.jobs).toEqual([
        { node: 'node-1', job: { ...base, op: 'reset', generation: 1, requestId: 'uid-a' } },
        { node: 'node-2', job: { ...base, op: 'reset', generation: 1, requestId: 'uid-b' } },
      ]);
      // node-9 is not a node any more, "garbage" is malformed: both dropped.
      expect([...d.removeRequests].sort()).toEqual([...requests].sort());
      expect(d.requestEvents).toHaveLength(2);
    }
  });

  it('OnFailure resets for failed workloads only, OnDelete for deleted ones only', () => {
    const both = ['node-1|uid-a|failed', 'node-2|uid-b|deleted'];
    for (const [resetPolicy, node, uid] of [
      ['OnFailure', 'node-1', 'uid-a'],
      ['OnDelete', 'node-2', 'uid-b'],
    ] as const) {
      const d = decideOverlay(
        input({
          overlay: { resetPolicy, resetGeneration: 1, observedResetGeneration: 1, phase: 'Ready' },
          entries: [ready('node-1', 1), ready('node-2', 1)],
          resetRequests: both,
        }),
      );
      expect(d.jobs).toEqual([{ node, job: { ...base, op: 'reset', generation: 1, requestId: uid } }]);
      expect([...d.removeRequests].sort()).toEqual([...both].sort());
    }
  });

  it('Manual: requests are dropped and nothing is reset', () => {
    const d = decideOverlay(
      input({ entries: [ready('node-1'), ready('node-2')], resetRequests: ['node-1|uid-a'] }),
    );
    expect(d.jobs).toEqual([]);
    expect(d.removeRequests).toEqual(['node-1|uid-a']);
  });

  it('a request for a busy node waits (kept, requeued, named in the message)', () => {
    const d = decideOverlay(
      input({
        overlay: { resetPolicy: 'OnFailure' },
        entries: [ready('node-1'), ready('node-2')],
        busy: { 'node-1': ['other'] },
        resetRequests: ['node-1|uid-a'],
      }),
    );
    expect(d.jobs).toEqual([]);
    expect(d.removeRequests).toEqual([]);
    expect(d.requeueAfterMs).toBe(BUSY_REQUEUE_MS);
    expect(d.status?.message).toBe('ready on 2 nodes; reset of node-1 waits for ReaperPod other');
  });
});

describe('decideOverlay: deletion', () => {
  it('sends a delete to every node not yet cleaned and names them while waiting', () => {
    const d = decideOverlay(
      input({
        overlay: { deleting: true, observedResetGeneration: 2 },
        nodes: ['node-1', 'node-3', 'node-7'],
        entries: [{ nodeName: 'node-1', ready: false, cleaned: true }],
        resetRequests: ['node-1|x'],
      }),
    );
    expect(d.status).toMatchObject({
      phase: 'Deleting',
      message: 'waiting for node-3, node-7 to clean up (agent away?)',
    });
    expect(d.jobs).toEqual([
      { node: 'node-3', job: { ...base, op: 'delete', generation: 2, requestId: 'delete' } },
      { node: 'node-7', job: { ...base, op: 'delete', generation: 2, requestId: 'delete' } },
    ]);
    expect(d.removeFinalizer).toBe(false);
    expect(d.addFinalizer).toBe(false);
    expect(d.removeRequests).toEqual(['node-1|x']);
  });

  it('keeps the data on a node while a ReaperPod using the overlay runs there, cleaning the others', () => {
    const d = decideOverlay(
      input({
        overlay: { deleting: true, phase: 'Ready' },
        nodes: ['node-1', 'node-2', 'node-3'],
        entries: [{ nodeName: 'node-3', ready: false, cleaned: true }],
        busy: { 'node-1': ['sleeper', 'writer'] },
      }),
    );
    expect(d.jobs).toEqual([
      { node: 'node-2', job: { ...base, op: 'delete', generation: 0, requestId: 'delete' } },
    ]);
    expect(d.status).toMatchObject({
      phase: 'Deleting',
      message:
        'cleanup of node-1 waits for ReaperPod sleeper, writer; waiting for node-2 to clean up (agent away?)',
    });
    expect(d.removeFinalizer).toBe(false);
    expect(d.requeueAfterMs).toBeUndefined();
    expect(d.transitionEvents).toEqual([
      { type: 'Normal', reason: 'Deleting', message: 'cleaning up on-disk data on 3 nodes' },
      {
        type: 'Normal',
        reason: 'CleanupWaiting',
        message: 'on-disk data kept while in use: node-1 waits for ReaperPod sleeper, writer',
      },
    ]);
  });

  it('cleans a node once its workloads are gone, and never removes the finalizer while one is busy', () => {
    const stillBusy = decideOverlay(
      input({
        overlay: { deleting: true, phase: 'Deleting' },
        nodes: ['node-1', 'node-2'],
        entries: [{ nodeName: 'node-2', ready: false, cleaned: true }],
        busy: { 'node-1': ['sleeper'] },
      }),
    );
    expect(stillBusy.jobs).toEqual([]);
    expect(stillBusy.removeFinalizer).toBe(false);
    expect(stillBusy.status?.message).toBe('cleanup of node-1 waits for ReaperPod sleeper');
    // Already Deleting: only the wait is reported, not a second "Deleting".
    expect(stillBusy.transitionEvents.map((e) => e.reason)).toEqual(['CleanupWaiting']);

    const free = decideOverlay(
      input({
        overlay: { deleting: true, phase: 'Deleting' },
        nodes: ['node-1', 'node-2'],
        entries: [{ nodeName: 'node-2', ready: false, cleaned: true }],
      }),
    );
    expect(free.jobs).toEqual([
      { node: 'node-1', job: { ...base, op: 'delete', generation: 0, requestId: 'delete' } },
    ]);
    expect(free.transitionEvents).toEqual([]);
  });

  it('a workload on a node that is already cleaned or no longer exists holds nothing', () => {
    const d = decideOverlay(
      input({
        overlay: { deleting: true, phase: 'Deleting' },
        nodes: ['node-1'],
        entries: [{ nodeName: 'node-1', ready: false, cleaned: true }],
        busy: { 'node-1': ['late'], 'node-gone': ['orphan'] },
      }),
    );
    expect(d.removeFinalizer).toBe(true);
    expect(d.status?.message).toBe('on-disk data cleaned up on 1 node');
  });

  it('lists at most MAX_LISTED nodes in the message and counts the rest', () => {
    const many = Array.from({ length: MAX_LISTED + 3 }, (_, i) => `n-${String(i).padStart(2, '0')}`);
    const d = decideOverlay(input({ overlay: { deleting: true }, nodes: many }));
    expect(d.status?.message).toBe(
      `waiting for ${many.slice(0, MAX_LISTED).join(', ')}, and 3 more to clean up (agent away?)`,
    );
    expect(d.jobs).toHaveLength(MAX_LISTED + 3);
  });

  it('removes the finalizer once every current node has cleaned up (removed nodes do not count)', () => {
    const d = decideOverlay(
      input({
        overlay: { deleting: true },
        nodes: ['node-1'],
        entries: [{ nodeName: 'node-1', ready: false, cleaned: true }],
      }),
    );
    expect(d.removeFinalizer).toBe(true);
    expect(d.jobs).toEqual([]);
    expect(d.status?.message).toBe('on-disk data cleaned up on 1 node');
  });

  it('does nothing for an object being deleted without our finalizer', () => {
    const d = decideOverlay(input({ overlay: { deleting: true, hasFinalizer: false } }));
    expect(d).toMatchObject({ status: undefined, jobs: [], removeFinalizer: false, addFinalizer: false });
  });
});
