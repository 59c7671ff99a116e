import { dirname } from 'node:path';
import { readState } from '@reaper-flow/local-cluster';
import { testEnv, useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterEach, describe, expect, it } from 'vitest';
import { type Change, type ChangeContext, Informer, type KubeObject } from './informer';
import { Resources } from './resources';

// Against the real API server of the test harness: ConfigMaps of this file's namespace.

interface Named extends KubeObject {
  readonly metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  readonly data?: Record<string, string>;
}

const LABEL = 'reaper.io/informer-test';

/**
 * Compacts etcd's history up to `revision`, as the API server does every few minutes: a watch from
 * an older resourceVersion then fails with 410 Gone. (On a fresh cluster nothing is compacted yet,
 * and the API server serves a watch from resourceVersion "1" by replaying the whole history.)
 */
async function compactEtcd(revision: string): Promise<void> {
  const state = await readState(dirname(testEnv().kubeconfigPath));
  if (!state) throw new Error('no local-cluster state.json next to the kubeconfig: cannot reach etcd');
  const res = await fetch(`http://127.0.0.1:${state.ports.etcdClient}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision, physical: true }),
  });
  if (!res.ok) throw new Error(`etcd compaction failed: ${res.status} ${await res.text()}`);
}

describe('Informer against the API server', () => {
  const t = useTestNamespace('informer');
  const informers: Informer<Named>[] = [];

  afterEach(async () => {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
  });

  const configMap = (name: string, data: Record<string, string> = {}) =>
    t.client.create<Named>(
      Resources.configMaps,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { [LABEL]: 'true' } }, data },
      { namespace: t.namespace },
    );

  function record() {
    const seen: { type: Change<Named>['type']; name: string; source: ChangeContext['source'] }[] = [];
    const handler = async (change: Change<Named>, ctx: ChangeContext) => {
      seen.push({ type: change.type, name: change.object.metadata.name, source: ctx.source });
    };
    return { seen, handler };
  }

  it('lists, then watches: creations, updates and deletions arrive in order', {
    timeout: 30_000,
  }, async () => {
    await configMap('before');
    const { seen, handler } = record();
    const informer = new Informer<Named>({
      kube: t.client,
      resource: Resources.configMaps,
      namespace: t.namespace,
      labelSelector: `${LABEL}=true`,
      handler,
    });
    informers.push(informer);
    informer.start();
    await informer.whenSynced();
    await waitFor(() => informer.state === 'Watching', { description: 'the watch', timeoutMs: 5_000 });
    await configMap('after');
    await t.client.patch(
      Resources.configMaps,
      'after',
      'merge',
      { data: { k: 'v' } },
      { namespace: t.namespace },
    );
    await t.client.delete(Resources.configMaps, 'before', { namespace: t.namespace });
    await waitFor(() => seen.length >= 4, { description: 'four changes', timeoutMs: 15_000 });
    expect(seen).toEqual([
      { type: 'ADDED', name: 'before', source: 'list' },
      { type: 'ADDED', name: 'after', source: 'watch' },
      { type: 'MODIFIED', name: 'after', source: 'watch' },
      { type: 'DELETED', name: 'before', source: 'watch' },
    ]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['after']);
    expect(informer.get(t.namespace, 'after')?.data).toEqual({ k: 'v' });
  });

  it('a forced 410 Gone re-lists and emits the deletions it missed', { timeout: 30_000 }, async () => {
    // Events, because the API server serves their watches from etcd (no watch cache): once etcd's
    // history is compacted, a watch from an older version fails with 410 Gone. (A watch-cached
    // resource on a young API server replays its whole window instead.)
    const event = (name: string) =>
      t.client.create<Named>(
        Resources.events,
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, labels: { [LABEL]: 'true' } },
          involvedObject: { kind: 'ConfigMap', name, namespace: t.namespace },
          reason: 'InformerTest',
          message: name,
          type: 'Normal',
        },
        { namespace: t.namespace },
      );
    const kept = await event('gone-kept');
    const deleted = await event('gone-deleted');
    // What a process persisted before it went away: both objects, at a version etcd no longer has.
    await t.client.delete(Resources.events, 'gone-deleted', { namespace: t.namespace });
    const now = await t.client.list(Resources.events, { namespace: t.namespace, limit: 1 });
    await compactEtcd(String(now.metadata.resourceVersion));
    const { seen, handler } = record();
    const errors: string[] = [];
    const informer = new Informer<Named>({
      kube: t.client,
      resource: Resources.events,
      namespace: t.namespace,
      labelSelector: `${LABEL}=true`,
      initialCache: [kept, deleted],
      resourceVersion: '1',
      listFirst: false,
      backoff: { initialMs: 50, maxMs: 500 },
      handler,
      onError: (err) => errors.push(String((err as { code?: string }).code)),
    });
    informers.push(informer);
    informer.start();
    await waitFor(() => seen.some((s) => s.type === 'DELETED'), {
      description: 'the missed deletion',
      timeoutMs: 15_000,
    });
    expect(errors[0]).toBe('Gone');
    expect(seen).toEqual([{ type: 'DELETED', name: 'gone-deleted', source: 'list' }]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['gone-kept']);
    await waitFor(() => informer.state === 'Watching', { description: 'watching again', timeoutMs: 5_000 });
  });
});
