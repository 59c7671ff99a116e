import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type KubeconfigSources, loadKubeconfig } from './kubeconfig';

const root = mkdtempSync(join(tmpdir(), 'reaper-flow-kubeconfig-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** Writes `doc` (YAML, or an object made YAML) to a new file under its own directory. */
function write(doc: unknown, dir = `d${n++}`): string {
  const path = join(root, dir, 'config');
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(path, typeof doc === 'string' ? doc : stringify(doc));
  return path;
}

/** No KUBECONFIG, no home directory, no in-cluster env: only what the test passes counts. */
const nowhere: KubeconfigSources = { env: {}, homeDir: undefined };

const cluster = (name: string, server: string, extra: object = {}) => ({
  name,
  cluster: { server, ...extra },
});
const context = (name: string, c: string, user?: string, namespace?: string) => ({
  name,
  context: { cluster: c, user, namespace },
});

describe('loadKubeconfig', () => {
  it('merges a KUBECONFIG list: the first file to set current-context or to define a name wins, missing files are skipped', () => {
    const a = write({
      'current-context': 'ctx-a',
      clusters: [cluster('shared', 'https://from-a:6443')],
      contexts: [context('ctx-a', 'shared', 'alice', 'ns-a')],
      users: [{ name: 'alice', user: { token: 'token-a' } }],
    });
    const b = write({
      'current-context': 'ctx-b',
      clusters: [cluster('shared', 'https://from-b:6443'), cluster('only-b', 'https://only-b:6443')],
      contexts: [context('ctx-a', 'only-b', 'bob'), context('ctx-b', 'only-b', 'alice')],
      users: [{ name: 'alice', user: { token: 'token-b' } }],
    });
    const list = [join(root, 'missing', 'config'), a, b].join(delimiter);
    const current = loadKubeconfig(undefined, undefined, { ...nowhere, env: { KUBECONFIG: list } });
    expect(current).toMatchObject({
      context: 'ctx-a',
      server: 'https://from-a:6443',
      namespace: 'ns-a',
      user: { name: 'alice', token: 'token-a' },
    });
    // A context only the second file defines still uses the first file's cluster and user by name.
    const other = loadKubeconfig(list, 'ctx-b', nowhere);
    expect(other).toMatchObject({ server: 'https://only-b:6443', user: { token: 'token-a' } });
    expect(other.namespace).toBeUndefined();
  });

  it('resolves relative paths against the directory of the file that defines the entry', () => {
    const clusters = write(
      {
        'current-context': 'c',
        clusters: [cluster('k', 'https://k:6443', { 'certificate-authority': 'pki/ca.crt' })],
        contexts: [context('c', 'k', 'u')],
      },
      'clusters-dir',
    );
    const users = write(
      {
        users: [
          {
            name: 'u',
            user: {
              'client-certificate': 'certs/u.crt',
              'client-key': '/abs/u.key',
              tokenFile: 'tokens/u',
              exec: { command: './bin/plugin', args: ['get'] },
            },
          },
        ],
      },
      'users-dir',
    );
    const kc = loadKubeconfig([clusters, users].join(delimiter), undefined, nowhere);
    expect(kc.certificateAuthority).toEqual({ file: join(root, 'clusters-dir', 'pki', 'ca.crt') });
    expect(kc.user).toMatchObject({
      clientCertificate: { file: join(root, 'users-dir', 'certs', 'u.crt') },
      clientKey: { file: '/abs/u.key' },
      tokenFile: join(root, 'users-dir', 'tokens', 'u'),
      exec: { command: join(root, 'users-dir', 'bin', 'plugin'), args: ['get'] },
    });
  });

  it('prefers *-data to the file, and reads the other cluster and user fields', () => {
    const path = write({
      'current-context': 'c',
      clusters: [
        cluster('k', 'https://k:6443', {
          'certificate-authority': 'ignored.crt',
          'certificate-authority-data': 'Q0E=',
          'insecure-skip-tls-verify': true,
          'tls-server-name': 'api.internal',
        }),
      ],
      contexts: [context('c', 'k', 'u')],
      users: [
        {
          name: 'u',
          user: {
            'client-certificate-data': 'Q0VSVA==',
            'client-key': 'key.pem',
            'token-file': 'tok',
            as: 'someone',
            exec: { command: 'plugin-on-path' },
          },
        },
      ],
    });
    const kc = loadKubeconfig(path, undefined, nowhere);
    expect(kc).toMatchObject({
      certificateAuthority: { data: 'Q0E=' },
      insecureSkipTlsVerify: true,
      tlsServerName: 'api.internal',
      user: {
        clientCertificate: { data: 'Q0VSVA==' },
        clientKey: { file: join(path, '..', 'key.pem') },
        tokenFile: join(path, '..', 'tok'),
        impersonate: 'someone',
        exec: { command: 'plugin-on-path' },
      },
    });
  });

  it('selects a context by name, and names a missing one and its file', () => {
    const path = write({
      'current-context': 'one',
      clusters: [cluster('k1', 'https://one:6443'), cluster('k2', 'https://two:6443')],
      contexts: [context('one', 'k1'), context('two', 'k2', undefined, 'team')],
    });
    expect(loadKubeconfig(path, 'two', nowhere)).toMatchObject({
      server: 'https://two:6443',
      namespace: 'team',
    });
    expect(() => loadKubeconfig(path, 'three', nowhere)).toThrow(`kubeconfig ${path} has no context "three"`);
  });

  it('names the file and the field of a malformed kubeconfig', () => {
    const bad = write({ clusters: [{ name: 'k', cluster: { server: 6443 } }] });
    expect(() => loadKubeconfig(bad, undefined, nowhere)).toThrow(
      new RegExp(`kubeconfig ${bad}: clusters\\[0\\]\\.cluster\\.server: `),
    );
    const notYaml = write('clusters: [\n');
    expect(() => loadKubeconfig(notYaml, undefined, nowhere)).toThrow(
      `kubeconfig ${notYaml} is not valid YAML`,
    );
    const dangling = write({ 'current-context': 'c', contexts: [context('c', 'nope')] });
    expect(() => loadKubeconfig(dangling, undefined, nowhere)).toThrow(
      `context "c" names cluster "nope", which no file defines`,
    );
  });

  it('uses ~/.kube/config when no path and no KUBECONFIG are given', () => {
    const home = join(root, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(
      join(home, '.kube', 'config'),
      stringify({
        'current-context': 'c',
        clusters: [cluster('k', 'https://home:6443')],
        contexts: [context('c', 'k')],
      }),
    );
    expect(loadKubeconfig(undefined, undefined, { env: {}, homeDir: home }).server).toBe('https://home:6443');
  });

  it('runs in-cluster from the mounted ServiceAccount when there is no kubeconfig', () => {
    const sa = join(root, 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'namespace'), 'reaper-system\n');
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
    const kc = loadKubeconfig(undefined, undefined, {
      env,
      homeDir: join(root, 'no-home'),
      serviceAccountDir: sa,
    });
    expect(kc).toEqual({
      source: 'in-cluster',
      context: 'in-cluster',
      server: 'https://[fd00::1]:443',
      certificateAuthority: { file: join(sa, 'ca.crt') },
      insecureSkipTlsVerify: false,
      namespace: 'reaper-system',
      user: { name: 'in-cluster', tokenFile: join(sa, 'token') },
    });
  });

  it('says what to set when there is no kubeconfig and no cluster around', () => {
    expect(() => loadKubeconfig(undefined, undefined, nowhere)).toThrow(/set KUBECONFIG/);
    const missing = [join(root, 'gone-1'), join(root, 'gone-2')].join(delimiter);
    expect(() => loadKubeconfig(missing, undefined, nowhere)).toThrow(
      `none of the kubeconfig files exist: ${missing}`,
    );
  });
});
