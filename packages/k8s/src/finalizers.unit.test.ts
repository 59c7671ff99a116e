import { describe, expect, it } from 'vitest';
import { ApiError } from './errors';
import { addFinalizer, type FinalizerClient, type FinalizerTarget, removeFinalizer } from './finalizers';
import { Resources } from './resources';

type Op = { op: string; path: string; value?: unknown };

/**
 * An in-memory object with real JSON-patch semantics for the ops the helpers use: a failed `test`
 * answers 422 like the API server, so the tests exercise the retry path for real.
 */
function fakeServer(
  initial: { finalizers?: string[]; resourceVersion: string; deleting?: boolean } | undefined,
) {
  let state = initial
    ? { ...initial, finalizers: initial.finalizers ? [...initial.finalizers] : undefined }
    : undefined;
  const patches: Op[][] = [];
  let gets = 0;
  const object = (): FinalizerTarget | undefined =>
    state && {
      metadata: {
        name: 'o',
        namespace: 'ns',
        resourceVersion: state.resourceVersion,
        ...(state.finalizers ? { finalizers: [...state.finalizers] } : {}),
        ...(state.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
      },
    };
  const client: FinalizerClient = {
    get: (async () => {
      gets++;
      return object();
    }) as FinalizerClient['get'],
    patch: (async (_ref: unknown, _name: string, type: string, body: unknown) => {
      expect(type).toBe('json');
      const ops = body as Op[];
      patches.push(ops);
      if (!state) throw new ApiError('NotFound', 404, 'not found');
      const next = { ...state, finalizers: state.finalizers ? [...state.finalizers] : undefined };
      for (const op of ops) {
        if (op.op === 'test') {
          const actual =
            op.path === '/metadata/resourceVersion'
              ? next.resourceVersion
              : op.path === '/metadata/finalizers'
                ? next.finalizers
                : next.finalizers?.[Number(op.path.split('/').pop())];
          if (JSON.stringify(actual) !== JSON.stringify(op.value)) {
            throw new ApiError('Invalid', 422, `test failed at ${op.path}`);
          }
        } else if (op.op === 'add' && op.path === '/metadata/finalizers') {
          next.finalizers = op.value as string[];
        } else if (op.op === 'add' && op.path === '/metadata/finalizers/-') {
          if (!next.finalizers) throw new ApiError('Invalid', 422, 'no list');
          next.finalizers.push(op.value as string);
        } else if (op.op === 'remove') {
          next.finalizers?.splice(Number(op.path.split('/').pop()), 1);
        }
      }
      next.resourceVersion = String(Number(next.resourceVersion) + 1);
      state = next;
      return object();
    }) as FinalizerClient['patch'],
  };
  return {
    client,
    patches,
    gets: () => gets,
    finalizers: () => state?.finalizers,
    /** Another controller changes the list behind our back. */
    setFinalizers: (f: string[]) => {
      if (state)
        state = { ...state, finalizers: f, resourceVersion: String(Number(state.resourceVersion) + 1) };
    },
  };
}

const ref = Resources.reaperOverlays;
const ours = 'reaper.io/overlay-cleanup';
const stale = (finalizers: string[] | undefined, resourceVersion = '1'): FinalizerTarget => ({
  metadata: { name: 'o', namespace: 'ns', resourceVersion, ...(finalizers ? { finalizers } : {}) },
});

describe('addFinalizer', () => {
  it('creates the list when the object has none, guarded by the resourceVersion', async () => {
    const s = fakeServer({ resourceVersion: '1' });
    expect(await addFinalizer(s.client, ref, stale(undefined), ours)).toBe('added');
    expect(s.finalizers()).toEqual([ours]);
    expect(s.patches[0]?.[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: '1' });
  });

  it("keeps another controller's finalizer added after our read", async () => {
    const s = fakeServer({ resourceVersion: '1', finalizers: ['other.io/a'] });
    s.setFinalizers(['other.io/a', 'other.io/b']);
    expect(await addFinalizer(s.client, ref, stale(['other.io/a']), ours)).toBe('added');
    expect(s.finalizers()).toEqual(['other.io/a', 'other.io/b', ours]);
    expect(s.gets()).toBe(1);
  });

  it('does nothing when the finalizer is already there (checked against the API after a stale read)', async () => {
    const s = fakeServer({ resourceVersion: '5', finalizers: [ours] });
    expect(await addFinalizer(s.client, ref, stale(undefined, '4'), ours)).toBe('present');
    expect(s.finalizers()).toEqual([ours]);
  });

  it('adds nothing to an object being deleted', async () => {
    const s = fakeServer({ resourceVersion: '1', deleting: true });
    const obj: FinalizerTarget = { metadata: { ...stale(undefined).metadata, deletionTimestamp: 'x' } };
    expect(await addFinalizer(s.client, ref, obj, ours)).toBe('deleting');
    expect(s.patches).toEqual([]);
  });

  it('returns false when the object is gone', async () => {
    const s = fakeServer(undefined);
    expect(await addFinalizer(s.client, ref, stale(['x']), ours)).toBe('gone');
  });

  it('gives up with a transient Conflict when the list keeps changing', async () => {
    const s = fakeServer({ resourceVersion: '1', finalizers: ['a'] });
    const client: FinalizerClient = {
      get: s.client.get,
      patch: (async () => {
        throw new ApiError('Invalid', 422, 'test failed');
      }) as FinalizerClient['patch'],
    };
    await expect(addFinalizer(client, ref, stale(['a']), ours, { attempts: 3 })).rejects.toMatchObject({
      code: 'Conflict',
    });
  });

  it('lets other errors through', async () => {
    const client: FinalizerClient = {
      get: (async () => undefined) as FinalizerClient['get'],
      patch: (async () => {
        throw new ApiError('Forbidden', 403, 'no');
      }) as FinalizerClient['patch'],
    };
    await expect(addFinalizer(client, ref, stale(['a']), ours)).rejects.toMatchObject({ code: 'Forbidden' });
  });
});

describe('removeFinalizer', () => {
  it('removes only ours, by index, guarded by a test of that entry', async () => {
    const s = fakeServer({ resourceVersion: '1', finalizers: ['a', ours, 'b'] });
    expect(await removeFinalizer(s.client, ref, stale(['a', ours, 'b']), ours)).toBe('removed');
    expect(s.finalizers()).toEqual(['a', 'b']);
    expect(s.patches[0]).toEqual([
      { op: 'test', path: '/metadata/finalizers/1', value: ours },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
  });

  it('re-reads when the index moved and never removes a finalizer of another controller', async () => {
    const s = fakeServer({ resourceVersion: '1', finalizers: ['a', ours] });
    s.setFinalizers([ours]); // "a" was removed by its owner after our read: index 1 is now out of range
    expect(await removeFinalizer(s.client, ref, stale(['a', ours]), ours)).toBe('removed');
    expect(s.finalizers()).toEqual([]);
  });

  it('returns false when ours is already gone', async () => {
    const s = fakeServer({ resourceVersion: '1', finalizers: ['a'] });
    expect(await removeFinalizer(s.client, ref, stale(['a']), ours)).toBe('absent');
    expect(s.patches).toEqual([]);
  });
});
