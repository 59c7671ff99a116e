// The Helm chart (infra/helm/reaper-flow) with the helm built from its Go module: it lints, renders,
// grants each component exactly what the kustomize tree (infra/deploy) grants, renders a
// configuration file the apps load, and its objects pass a server-side dry run on the test cluster.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureHelm, REPO_ROOT, removeDir } from '@reaper-flow/local-cluster';
import { loadConfig } from '@reaper-flow/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl } from './harness/index';
import {
  type Manifest,
  permissionsByServiceAccount,
  type Rendering,
  renderHelmChart,
  renderKustomization,
  run,
} from './support/deploy-manifests';

const CHART = 'infra/helm/reaper-flow';
const COMPONENTS = ['reaper-flow-watcher', 'reaper-flow-scheduler', 'reaper-flow-node-agent'];
const DRY_RUN_LINE = /serverside-applied \(server dry run\)$/;
/** Values of a release on an external Redis under Sentinel, with the standalone dashboard. */
const SENTINEL_VALUES = [
  '--set',
  'redis.bundled.enabled=false',
  '--set',
  'redis.mode=sentinel',
  '--set',
  'redis.sentinel.sentinels={10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379}',
  '--set',
  'redis.existingSecret=my-redis',
  '--set',
  'dashboard.standalone.enabled=true',
  '--set',
  'dashboard.existingSecret=my-dashboard',
];

interface ConfigMapObject extends Manifest {
  readonly data: Record<string, string>;
}

async function loadRenderedConfig(rendering: Rendering, dir: string) {
  const cm = rendering.get('ConfigMap', 'reaper-flow-config') as ConfigMapObject;
  const file = join(dir, `reaper-flow-${randomBytes(3).toString('hex')}.yaml`);
  await writeFile(file, cm.data['reaper-flow.yaml'] ?? '');
  return loadConfig({ file, env: {} });
}

describe('Helm chart: infra/helm/reaper-flow', () => {
  let helm: string;
  let workDir: string;
  const namespace = `rf-helm-${randomBytes(3).toString('hex')}`;
  let namespaceCreated = false;

  // A cold build of helm from its Go module takes minutes (13 min on 2 busy cores); later runs
  // find it in the per-machine cache at once.
  beforeAll(async () => {
    helm = await ensureHelm();
    workDir = await mkdtemp(join(tmpdir(), 'reaper-flow-helm-'));
  }, 30 * 60_000);

  afterAll(async () => {
    if (namespaceCreated)
      await kubectl(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=false']);
    if (workDir) await removeDir(workDir);
  }, 60_000);

  it('passes helm lint, with the default values and with an external Sentinel', async () => {
    for (const values of [[], SENTINEL_VALUES]) {
      const lint = await run(helm, ['lint', '--strict', join(REPO_ROOT, CHART), ...values]);
      expect(lint.code, `${lint.stdout}\n${lint.stderr}`).toBe(0);
      expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  }, 60_000);

  it('grants each component the same RBAC rules as infra/deploy', async () => {
    const chart = await renderHelmChart(helm, 'reaper-flow', CHART, ['-n', 'reaper-system']);
    const kustomize = await renderKustomization('infra/deploy');
    const fromChart = permissionsByServiceAccount(chart.manifests);
    const fromKustomize = permissionsByServiceAccount(kustomize.manifests);
    expect([...fromChart.keys()].sort()).toEqual([...COMPONENTS].sort());
    for (const sa of COMPONENTS) {
      expect(fromKustomize.get(sa)?.length, `infra/deploy grants ${sa} something`).toBeGreaterThan(0);
      expect(fromChart.get(sa), `what the chart grants ${sa}`).toEqual(fromKustomize.get(sa));
    }
    // The same ServiceAccounts, and nothing bound to anyone else.
    const accounts = (r: Rendering) =>
      r.manifests
        .filter((m) => m.kind === 'ServiceAccount')
        .map((m) => `${m.metadata.namespace}/${m.metadata.name}`)
        .sort();
    expect(accounts(chart)).toEqual(accounts(kustomize));
  }, 60_000);

  it('renders a configuration file the apps load, mapped from the values', async () => {
    const defaults = await renderHelmChart(helm, 'reaper-flow', CHART, [
      '-n',
      namespace,
      '--set',
      'config.rollout.podCreatesPerSecond=50',
      '--set',
      'config.log.level=debug',
    ]);
    const config = await loadRenderedConfig(defaults, workDir);
    expect(config.rollout.podCreatesPerSecond).toBe(50);
    expect(config.log.level).toBe('debug');
    // The bundled Redis is what the file points at; the Lease is the one the watcher's Role names.
    const redisService = defaults.get('Service', 'reaper-flow-redis');
    expect(new URL(config.redis.url).hostname).toBe(`reaper-flow-redis.${namespace}.svc`);
    expect(redisService.metadata.namespace).toBe(namespace);
    expect(config.watcher.leaseNamespace).toBe(namespace);
    const leaseRole = defaults.get('Role', 'reaper-flow-watcher-leader-election') as unknown as {
      rules: { resourceNames?: string[]; verbs: string[] }[];
    };
    expect(leaseRole.rules.find((r) => r.verbs.includes('update'))?.resourceNames).toEqual([
      config.watcher.leaseName,
    ]);
    expect(config.dashboard).toMatchObject({ enabled: true, host: '0.0.0.0' });
    expect(config.metrics.host).toBe('0.0.0.0');

    const sentinel = await renderHelmChart(helm, 'reaper-flow', CHART, ['-n', namespace, ...SENTINEL_VALUES]);
    const sentinelConfig = await loadRenderedConfig(sentinel, workDir);
    expect(sentinelConfig.redis.mode).toBe('sentinel');
    expect(sentinelConfig.redis.sentinel.sentinels).toEqual([
      '10.0.0.5:26379',
      '10.0.0.6:26379',
      '10.0.0.7:26379',
    ]);
    // The standalone dashboard serves it, so the scheduler does not.
    expect(sentinelConfig.dashboard.enabled).toBe(false);
    expect(sentinel.manifests.some((m) => m.kind === 'StatefulSet')).toBe(false);
    expect(sentinel.get('Deployment', 'reaper-flow-dashboard').metadata.namespace).toBe(namespace);

    const cluster = await renderHelmChart(helm, 'reaper-flow', CHART, [
      '-n',
      namespace,
      '--set',
      'redis.bundled.enabled=false',
      '--set',
      'redis.mode=cluster',
      '--set',
      'redis.cluster.nodes={10.0.0.5:6379,10.0.0.6:6379}',
    ]);
    const clusterConfig = await loadRenderedConfig(cluster, workDir);
    expect(clusterConfig.redis.mode).toBe('cluster');
    expect(clusterConfig.redis.cluster.nodes).toEqual(['10.0.0.5:6379', '10.0.0.6:6379']);
    expect(clusterConfig.redis.prefix).toBe('{reaper}');
    expect(cluster.manifests.some((m) => m.kind === 'StatefulSet')).toBe(false);
  }, 60_000);

  it('ships CRDs identical to infra/crds', async () => {
    const files = (await readdir(join(REPO_ROOT, 'infra/crds'))).filter((f) => f.endsWith('.yaml')).sort();
    expect((await readdir(join(REPO_ROOT, CHART, 'crds'))).sort()).toEqual(files);
    for (const file of files) {
      expect(
        await readFile(join(REPO_ROOT, CHART, 'crds', file), 'utf8'),
        `${CHART}/crds/${file} is a copy of infra/crds/${file} (cp infra/crds/*.yaml ${CHART}/crds/)`,
      ).toBe(await readFile(join(REPO_ROOT, 'infra/crds', file), 'utf8'));
    }
  }, 30_000);

  it('renders objects the API server accepts (server-side dry run), bundled Redis and external Sentinel', async () => {
    const created = await kubectl(['create', 'namespace', namespace]);
    expect(created.code, created.stderr).toBe(0);
    namespaceCreated = true;
    for (const values of [[], SENTINEL_VALUES]) {
      const rendering = await renderHelmChart(helm, 'reaper-flow', CHART, [
        '-n',
        namespace,
        '--include-crds',
        ...values,
      ]);
      const kinds = new Set(rendering.manifests.map((m) => m.kind));
      for (const kind of [
        'CustomResourceDefinition',
        'ClusterRole',
        'Role',
        'ConfigMap',
        'Deployment',
        'DaemonSet',
      ]) {
        expect(kinds, `a ${kind} is rendered`).toContain(kind);
      }
      const dry = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], {
        input: rendering.yaml,
      });
      expect(dry.code, dry.stderr).toBe(0);
      const accepted = dry.stdout.split('\n').filter((l) => DRY_RUN_LINE.test(l));
      expect(accepted.length, dry.stdout).toBe(rendering.manifests.length);
    }
  }, 120_000);
});
