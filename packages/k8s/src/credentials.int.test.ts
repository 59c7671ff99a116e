import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEnv, useTestNamespace, waitFor } from '@reaper-flow/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { KubeClient, type RequestMetric } from './client';
import { isApiError } from './errors';
import { type ResourceRef, Resources } from './resources';

// Credentials that change under a running client, against the real API server: a ServiceAccount
// token file rotated (a new TokenRequest token written over the old) and the old token revoked,
// and an exec plugin whose credential expires. Each TokenRequest token is bound to a Secret of its
// own, so deleting that Secret revokes exactly that token. The API server caches a successful
// token check for 10 s, so a revocation takes that long to show: the cases run concurrently.

const roles: ResourceRef = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'roles',
  kind: 'Role',
  namespaced: true,
};
const roleBindings: ResourceRef = { ...roles, plural: 'rolebindings', kind: 'RoleBinding' };
const SA = 'rotating-app';

interface AdminKubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string } }[];
  clusters?: { name: string; cluster: Record<string, string> }[];
}

describe.concurrent('credentials that expire', () => {
  const t = useTestNamespace('credentials');
  let dir: string;
  let cluster: Record<string, string>;
  const clients: KubeClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reaper-flow-creds-'));
    const admin = parseYaml(await readFile(testEnv().kubeconfigPath, 'utf8')) as AdminKubeconfig;
    const ctx = admin.contexts?.find((c) => c.name === admin['current-context']);
    const found = admin.clusters?.find((c) => c.name === ctx?.context.cluster)?.cluster;
    if (!found) throw new Error('admin kubeconfig has no current cluster');
    cluster = { server: found.server ?? '' };
    if (found['certificate-authority-data'])
      cluster['certificate-authority-data'] = found['certificate-authority-data'];
    else if (found['certificate-authority'])
      cluster['certificate-authority'] = found['certificate-authority'];

    const ns = t.namespace;
    await t.client.create(
      Resources.serviceAccounts,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA } },
      { namespace: ns },
    );
    await t.client.create(
      roles,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
      { namespace: ns },
    );
    await t.client.create(
      roleBindings,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'app-reads-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns }],
      },
      { namespace: ns },
    );
    await t.client.create(
      Resources.configMaps,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'probe' }, data: { a: '1' } },
      { namespace: ns },
    );
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A TokenRequest token of the ServiceAccount, bound to a new Secret `name` (delete it to revoke). */
  async function issueToken(name: string): Promise<string> {
    const secret = await t.client.create<{ metadata: { uid: string } }>(
      Resources.secrets,
      { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque' },
      { namespace: t.namespace },
    );
    const tr = await t.client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${t.namespace}/serviceaccounts/${SA}/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            expirationSeconds: 600,
            boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name, uid: secret.metadata.uid },
          },
        },
      },
    );
    return tr.status.token;
  }

  /** Deletes the token's Secret and waits until the API server refuses the token. */
  async function revoke(name: string, token: string): Promise<void> {
    await t.client.delete(Resources.secrets, name, { namespace: t.namespace });
    const probe = await t.client.withToken(token);
    clients.push(probe);
    await waitFor(
      () =>
        probe.get(Resources.configMaps, 'probe', { namespace: t.namespace }).then(
          () => false,
          (err: unknown) => isApiError(err, 'Unauthorized'),
        ),
      { description: `the token bound to Secret ${name} refused`, timeoutMs: 30_000 },
    );
  }

  /** Replaces the file as the kubelet does: a new file renamed over the old one. */
  async function writeAtomically(path: string, text: string): Promise<void> {
    await writeFile(`${path}.tmp`, text, { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  }

  async function writeKubeconfig(name: string, user: Record<string, unknown>): Promise<string> {
    const path = join(dir, `${name}.kubeconfig`);
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'app', user }],
      contexts: [{ name: 'app', context: { cluster: 'c', user: 'app', namespace: t.namespace } }],
      'current-context': 'app',
    };
    await writeFile(path, JSON.stringify(doc), { mode: 0o600 });
    return path;
  }

  async function appClient(kubeconfigPath: string, tokenFileRefreshMs?: number) {
    const codes: number[] = [];
    const client = await KubeClient.create({
      kubeconfigPath,
      ...(tokenFileRefreshMs === undefined ? {} : { tokenFileRefreshMs }),
      onRequest: (m: RequestMetric) => codes.push(m.code),
    });
    clients.push(client);
    const read = () =>
      client.get<{ data?: Record<string, string> }>(Resources.configMaps, 'probe', {
        namespace: t.namespace,
      });
    return { client, codes, read };
  }

  it('a rotated token file is read again while the client runs, before the old token is revoked', {
    timeout: 60_000,
  }, async () => {
    const tokenPath = join(dir, 'periodic-token');
    const first = await issueToken('periodic-1');
    await writeAtomically(tokenPath, first);
    // A relative tokenFile is resolved against the kubeconfig's directory, as client-go does.
    const app = await appClient(await writeKubeconfig('periodic', { tokenFile: 'periodic-token' }), 300);
    expect((await app.read())?.data).toEqual({ a: '1' });

    await writeAtomically(tokenPath, await issueToken('periodic-2'));
    // The next reads, once the interval passed, carry the new token: revoking the old one
    // afterwards costs no request a 401.
    await waitFor(
      async () => {
        await app.read();
        return app.codes.length >= 5;
      },
      { description: 'a few reads across the refresh interval', intervalMs: 150 },
    );
    await revoke('periodic-1', first);
    expect((await app.read())?.data).toEqual({ a: '1' });
    expect(app.codes.filter((c) => c === 401)).toEqual([]);
  });

  it('a 401 makes the client read its token file again at once and the request succeeds', {
    timeout: 60_000,
  }, async () => {
    const tokenPath = join(dir, 'on-401-token');
    const first = await issueToken('on-401-1');
    await writeAtomically(tokenPath, first);
    // The periodic re-read is an hour away: only the 401 can make it read the file.
    const app = await appClient(await writeKubeconfig('on-401', { tokenFile: tokenPath }), 3_600_000);
    expect((await app.read())?.data).toEqual({ a: '1' });

    await writeAtomically(tokenPath, await issueToken('on-401-2'));
    await revoke('on-401-1', first);
    expect((await app.read())?.data).toEqual({ a: '1' });
    // It went through a refused request (the old token), then the same request again, accepted.
    expect(app.codes.slice(-2)).toEqual([401, 200]);

    // A token file whose token is refused, with nothing newer in it, fails as Unauthorized
    // (after one read of the file, not a loop).
    const badPath = join(dir, 'bad-token');
    await writeAtomically(badPath, 'not-a-token');
    const bad = await appClient(await writeKubeconfig('bad', { tokenFile: badPath }), 3_600_000);
    const err = await bad.read().catch((e: unknown) => e);
    expect(isApiError(err, 'Unauthorized')).toBe(true);
    expect(bad.codes).toEqual([401]);
  });

  it('an exec credential is renewed before its expirationTimestamp and after its token is revoked', {
    timeout: 60_000,
  }, async () => {
    const tokenPath = join(dir, 'exec-token');
    const runsPath = join(dir, 'exec-runs');
    const plugin = join(dir, 'exec-plugin.sh');
    await writeFile(runsPath, '');
    // A plugin as cloud CLIs are: prints an ExecCredential whose token lives 3 s.
    await writeFile(
      plugin,
      [
        '#!/bin/sh',
        `echo run >> '${runsPath}'`,
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$(cat '${tokenPath}')" "$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)"`,
        '',
      ].join('\n'),
    );
    await chmod(plugin, 0o755);
    const first = await issueToken('exec-1');
    await writeAtomically(tokenPath, first);
    const app = await appClient(
      await writeKubeconfig('exec', {
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' },
      }),
    );
    const runs = async () => (await readFile(runsPath, 'utf8')).split('\n').filter(Boolean).length;
    expect((await app.read())?.data).toEqual({ a: '1' });
    expect(await runs()).toBe(1);

    // Before it expires the plugin runs again, with no request refused.
    await waitFor(
      async () => {
        await app.read();
        return (await runs()) >= 2;
      },
      { description: 'the exec plugin run again before the credential expired', intervalMs: 250 },
    );
    expect(app.codes.filter((c) => c === 401)).toEqual([]);

    // The plugin now hands out a new token and the old one is revoked: requests keep working.
    await writeAtomically(tokenPath, await issueToken('exec-2'));
    await revoke('exec-1', first);
    expect((await app.read())?.data).toEqual({ a: '1' });
  });
});
