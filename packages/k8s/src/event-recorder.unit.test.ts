import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client';
import { ApiError } from './errors';
import { EventRecorder } from './event-recorder';

type Client = Pick<KubeClient, 'create' | 'patch'>;

/** Keeps written Events in memory, like the API server would. */
function fakeEvents() {
  const events = new Map<string, Record<string, unknown>>();
  let failCreate: ApiError | undefined;
  const client: Client = {
    create: (async (_ref: unknown, body: unknown) => {
      if (failCreate) throw failCreate;
      const e = body as { metadata: { name: string } };
      events.set(e.metadata.name, { ...(body as Record<string, unknown>) });
      return body;
    }) as Client['create'],
    patch: (async (_ref: unknown, name: string, _type: string, body: unknown) => {
      const e = events.get(name);
      if (!e) throw new ApiError('NotFound', 404, 'gone');
      Object.assign(e, body as Record<string, unknown>);
      return e;
    }) as Client['patch'],
  };
  return {
    client,
    events,
    failCreates: (err: ApiError) => {
      failCreate = err;
    },
  };
}

const rpod = { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperPod', name: 'p', namespace: 'ns', uid: 'u-1' };

function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

describe('EventRecorder', () => {
  it('writes a core/v1 Event naming the object by uid, with source and timestamps', async () => {
    const f = fakeEvents();
    const c = clock();
    const rec = new EventRecorder(f.client, { component: 'reaper-flow-scheduler', host: 'h', now: c.now });
    await rec.record(rpod, 'Normal', 'PodCreated', 'created Pod p');
    const [event] = [...f.events.values()];
    expect(event).toMatchObject({
      involvedObject: { kind: 'ReaperPod', name: 'p', namespace: 'ns', uid: 'u-1' },
      reason: 'PodCreated',
      message: 'created Pod p',
      type: 'Normal',
      source: { component: 'reaper-flow-scheduler', host: 'h' },
      firstTimestamp: '2026-01-01T00:00:00Z',
      lastTimestamp: '2026-01-01T00:00:00Z',
      count: 1,
      metadata: { namespace: 'ns' },
    });
  });

  it('aggregates a repeat within the window into count and lastTimestamp of the same Event', async () => {
    const f = fakeEvents();
    const c = clock();
    const rec = new EventRecorder(f.client, { component: 'x', now: c.now, aggregateWindowMs: 60_000 });
    await rec.record(rpod, 'Warning', 'Failed', 'exit code 3');
    c.advance(5_000);
    await rec.record(rpod, 'Warning', 'Failed', 'exit code 3');
    expect(f.events.size).toBe(1);
    expect([...f.events.values()][0]).toMatchObject({ count: 2, lastTimestamp: '2026-01-01T00:00:05Z' });
    c.advance(120_000);
    await rec.record(rpod, 'Warning', 'Failed', 'exit code 3');
    expect(f.events.size).toBe(2);
  });

  it('two records of the same fact at once make one Event with count 2', async () => {
    const f = fakeEvents();
    const rec = new EventRecorder(f.client, { component: 'x' });
    await Promise.all([
      rec.record(rpod, 'Normal', 'PodCreated', 'm'),
      rec.record(rpod, 'Normal', 'PodCreated', 'm'),
    ]);
    expect(f.events.size).toBe(1);
    expect([...f.events.values()][0]).toMatchObject({ count: 2 });
  });

  it('starts a new Event when the aggregated one expired on the server', async () => {
    const f = fakeEvents();
    const rec = new EventRecorder(f.client, { component: 'x' });
    await rec.record(rpod, 'Normal', 'R', 'm');
    f.events.clear();
    await rec.record(rpod, 'Normal', 'R', 'm');
    expect([...f.events.values()]).toEqual([expect.objectContaining({ count: 1 })]);
  });

  it('never throws into the caller: a failed write is logged and dropped', async () => {
    const f = fakeEvents();
    f.failCreates(new ApiError('Forbidden', 403, 'no events for you'));
    const warnings: string[] = [];
    const rec = new EventRecorder(f.client, {
      component: 'x',
      logger: { warn: (_o, msg) => warnings.push(msg), debug: () => undefined },
    });
    await expect(rec.record(rpod, 'Warning', 'R', 'm')).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(f.events.size).toBe(0);
  });

  it('an Event into a namespace being deleted is dropped quietly (debug, not a warning)', async () => {
    const f = fakeEvents();
    f.failCreates(
      new ApiError(
        'Forbidden',
        403,
        'unable to create new content in namespace x because it is being terminated',
      ),
    );
    const warnings: string[] = [];
    const debug: string[] = [];
    const rec = new EventRecorder(f.client, {
      component: 'x',
      logger: { warn: (_o, msg) => warnings.push(msg), debug: (_o, msg) => debug.push(msg) },
    });
    await rec.record(rpod, 'Warning', 'R', 'm');
    expect([warnings.length, debug.length]).toEqual([0, 1]);
  });

  it('puts Events of cluster-scoped objects into "default"', async () => {
    const f = fakeEvents();
    const rec = new EventRecorder(f.client, { component: 'x' });
    await rec.record({ apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'n' }, 'Normal', 'R', 'm');
    expect([...f.events.values()][0]).toMatchObject({ metadata: { namespace: 'default' } });
  });
});
