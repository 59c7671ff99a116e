import { testEnv, useTestNamespace } from '@reaper-flow/test';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeClient, type RequestMetric } from './client';
import { Resources } from './resources';

// The client's request metrics against the real API server: what the apps' and the bench's
// request counts are built from.

describe('KubeClient request metrics', () => {
  const t = useTestNamespace('client-metrics');
  const clients: KubeClient[] = [];
  afterAll(() => {
    for (const c of clients) c.close();
  });

  it('a watch is counted once, when it opens, also when it is aborted mid-stream', {
    timeout: 30_000,
  }, async () => {
    const seen: RequestMetric[] = [];
    const client = await KubeClient.create({
      kubeconfigPath: testEnv().kubeconfigPath,
      onRequest: (m) => seen.push(m),
    });
    clients.push(client);
    const abort = new AbortController();
    const events = client.watch<{ metadata: { name: string } }>(Resources.configMaps, {
      namespace: t.namespace,
      signal: abort.signal,
    });
    await t.client.create(
      Resources.configMaps,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' } },
      { namespace: t.namespace },
    );
    let received = 0;
    // Aborted at its first event: the stream ends quietly (the loop ends) and is not counted again.
    for await (const _event of events) {
      received++;
      abort.abort();
    }
    expect(received).toBeGreaterThan(0);
    await client.get(Resources.configMaps, 'watched', { namespace: t.namespace });
    expect(seen.map((m) => `${m.verb} ${m.resource} ${m.code}`)).toEqual([
      'WATCH configmaps 200',
      'GET configmaps 200',
    ]);
  });
});
