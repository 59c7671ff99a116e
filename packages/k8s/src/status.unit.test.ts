import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client';
import { ApiError } from './errors';
import { Resources } from './resources';
import { patchStatus } from './status';

function recordingClient(fail?: ApiError) {
  const calls: { name: string; body: unknown; opts: unknown }[] = [];
  const client: Pick<KubeClient, 'patch'> = {
    patch: (async (_ref: unknown, name: string, _type: string, body: unknown, opts: unknown) => {
      if (fail) throw fail;
      calls.push({ name, body, opts });
      return {};
    }) as KubeClient['patch'],
  };
  return { client, calls };
}

describe('patchStatus', () => {
  const obj = { metadata: { name: 'p', namespace: 'ns' }, status: { phase: 'Pending' } };

  it('writes a merge patch on /status when the status differs', async () => {
    const { client, calls } = recordingClient();
    expect(
      await patchStatus(client, Resources.reaperPods, obj, { phase: 'Running' }, { fieldManager: 'm' }),
    ).toBe(true);
    expect(calls).toEqual([
      {
        name: 'p',
        body: { status: { phase: 'Running' } },
        opts: { namespace: 'ns', subresource: 'status', fieldManager: 'm' },
      },
    ]);
  });

  it('writes nothing when the status is already as desired', async () => {
    const { client, calls } = recordingClient();
    expect(await patchStatus(client, Resources.reaperPods, obj, { phase: 'Pending' })).toBe(false);
    expect(calls).toEqual([]);
  });

  it('returns false for a vanished object and throws other errors', async () => {
    expect(
      await patchStatus(
        recordingClient(new ApiError('NotFound', 404, 'gone')).client,
        Resources.reaperPods,
        obj,
        {
          phase: 'Running',
        },
      ),
    ).toBe(false);
    await expect(
      patchStatus(recordingClient(new ApiError('ServerError', 500, 'x')).client, Resources.reaperPods, obj, {
        phase: 'Running',
      }),
    ).rejects.toMatchObject({ code: 'ServerError' });
  });
});
