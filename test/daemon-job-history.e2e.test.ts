// `kubectl reaper history` the way an operator with only kubectl reaches it on a cluster: through
// the API server's Service proxy to the scheduler's dashboard (the dashboard credentials read from
// the Secret), as a ServiceAccount that has only the RBAC the README names, with the apps as
// processes. The scheduler is SIGKILLed in the middle of the run and
// started again: the history must still list exactly the attempts the ReaperPods had, counted from
// a watch opened before the job. Then the job is deleted: its history stays readable for
// queues.retention.deletedJobLogSeconds, and is gone after that.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resources } from '@reaper-flow/k8s';
import { addNode, removeNode } from '@reaper-flow/local-cluster';
import { createRedis, RedisKeys } from '@reaper-flow/queue';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestNamespace, waitFor } from './harness/index';
import { type AppProcess, describeOutput, killApp, spawnApp } from './support/app-processes';
import { writeServiceAccountKubeconfig } from './support/deploy-apps';
import { type HistoryJson, runPlugin } from './support/kubectl-reaper';
import { ReaperPodTimeline } from './support/reaper-pod-timeline';
import { type ExposedService, exposeThroughService, routableAddress } from './support/service-proxy';

const suite = randomBytes(3).toString('hex');
const GROUP_LABEL = 'reaper.io/test-group';
const nodes = [`hist-${suite}-a`, `hist-${suite}-b`];
const RETENTION_SECONDS = 20;

/** A port free on `host` now (the scheduler binds it, twice: before and after its restart). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('kubectl reaper history through the Service proxy', () => {
  const t = useTestNamespace('djob-history');
  const password = randomBytes(12).toString('hex');
  const procs: AppProcess[] = [];
  let timeline: ReaperPodTimeline;
  let service: ExposedService | undefined;
  let redis: Redis;
  let appEnv: Record<string, string>;
  let dashboardUrl: string;
  let readerDir: string;
  let readerKubeconfig: string;

  const start = (app: 'watcher' | 'scheduler') => {
    const proc = spawnApp(app, `${app}#${procs.length + 1}`, appEnv);
    procs.push(proc);
    return proc;
  };
  // No REAPER_HISTORY_URL and no password in the environment: the Service proxy and the Secret.
  const history = (args: readonly string[] = []) =>
    runPlugin(['history', 'rdjob/flaky', '-n', t.namespace, ...args], {
      KUBECONFIG: readerKubeconfig,
      REAPER_DASHBOARD_SERVICE: `${t.namespace}/reaper-flow-dashboard`,
      REAPER_HISTORY_URL: '',
      REAPER_DASHBOARD_PASSWORD: '',
      REAPER_DASHBOARD_TOKEN: '',
    });

  beforeAll(async () => {
    const env = testEnv();
    const client = t.client;
    for (const name of nodes) await addNode(client, { name, labels: { [GROUP_LABEL]: suite } });
    timeline = await new ReaperPodTimeline(client, t.namespace).start();
    redis = createRedis({ url: env.redisUrl }, 'producer');
    const address = routableAddress();
    const port = await freePort(address);
    dashboardUrl = `http://${address}:${port}/`;
    appEnv = {
      KUBECONFIG: env.kubeconfigPath,
      REDIS_URL: env.redisUrl,
      REAPER_FLOW_PREFIX: t.queuePrefix,
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      REAPER_FLOW__WATCHER__LEASE_NAME: `rf-hist-${suite}`,
      REAPER_FLOW__DASHBOARD__HOST: address,
      DASHBOARD_PORT: String(port),
      DASHBOARD_PASSWORD: password,
      REAPER_FLOW__RETRY__BASE_MS: '300',
      REAPER_FLOW__RETRY__CAP_MS: '600',
      REAPER_FLOW__STATUS__COALESCE_MS: '200',
      REAPER_FLOW__QUEUES__RETENTION__DELETED_JOB_LOG_SECONDS: String(RETENTION_SECONDS),
      // The dead scheduler's locked jobs are taken over soon after its lock expires.
      REAPER_FLOW__QUEUES__STALLED__LOCK_DURATION_MS: '3000',
      REAPER_FLOW__QUEUES__STALLED__INTERVAL_MS: '1000',
    };
    // What infra/deploy has: the dashboard's Secret and Service, here in the test's namespace.
    await client.create(
      Resources.secrets,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'reaper-flow-dashboard' },
        data: { password: Buffer.from(password).toString('base64') },
      },
      { namespace: t.namespace },
    );
    // The operator: may read the dashboard through the proxy and its Secret, nothing else.
    const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', namespaced: true } as const;
    await client.create(
      Resources.serviceAccounts,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'history-reader' } },
      { namespace: t.namespace },
    );
    await client.create(
      { ...rbac, plural: 'roles', kind: 'Role' },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'history-reader' },
        rules: [
          {
            apiGroups: [''],
            resources: ['services/proxy'],
            resourceNames: ['reaper-flow-dashboard'],
            verbs: ['get'],
          },
          {
            apiGroups: [''],
            resources: ['secrets'],
            resourceNames: ['reaper-flow-dashboard'],
            verbs: ['get'],
          },
        ],
      },
      { namespace: t.namespace },
    );
    await client.create(
      { ...rbac, plural: 'rolebindings', kind: 'RoleBinding' },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'history-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'history-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'history-reader', namespace: t.namespace }],
      },
      { namespace: t.namespace },
    );
    readerDir = await mkdtemp(join(tmpdir(), 'rf-history-reader-'));
    readerKubeconfig = join(readerDir, 'kubeconfig');
    await writeServiceAccountKubeconfig({
      adminKubeconfigPath: env.kubeconfigPath,
      namespace: t.namespace,
      serviceAccount: 'history-reader',
      path: readerKubeconfig,
    });
    service = await exposeThroughService(client, {
      namespace: t.namespace,
      name: 'reaper-flow-dashboard',
      port: 3000,
      address,
      targetPort: port,
    });
  }, 60_000);

  afterAll(async () => {
    for (const proc of procs) await killApp(proc);
    await timeline?.stop();
    await service?.remove();
    for (const name of nodes) await removeNode(t.client, name);
    redis?.disconnect();
    if (readerDir) await rm(readerDir, { recursive: true, force: true });
  }, 60_000);

  it('lists exactly the attempts the ReaperPods had, across a scheduler SIGKILL mid-run', {
    timeout: 120_000,
  }, async () => {
    const client = t.client;
    start('watcher');
    const first = start('scheduler');
    await client.create(
      Resources.reaperDaemonJobs,
      {
        apiVersion: 'reaper.io/v1alpha1',
        kind: 'ReaperDaemonJob',
        metadata: { name: 'flaky' },
        spec: {
          command: ['/bin/sh', '-c', 'sleep 1; exit 3'],
          nodeSelector: { [GROUP_LABEL]: suite },
          retryLimit: 1,
        },
      },
      { namespace: t.namespace },
    );
    // Killed once the run is under way: a first attempt exists and not every attempt has been made.
    await waitFor(() => timeline.of('flaky').length >= 1 && timeline.of('flaky').length < 4, {
      description: 'the run of flaky under way',
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    await killApp(first);
    start('scheduler');
    await waitFor(
      async () => {
        const job = await client.get<{ status?: { phase?: string; failedNodes?: number } }>(
          Resources.reaperDaemonJobs,
          'flaky',
          { namespace: t.namespace },
        );
        return job?.status?.phase === 'PartiallyFailed' && job.status.failedNodes === 2;
      },
      { description: 'flaky PartiallyFailed on both nodes after the restart', timeoutMs: 90_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${describeOutput(procs)}`);
    });
    await waitFor(() => fetch(dashboardUrl).then((r) => r.status === 401), {
      description: 'the restarted scheduler serving its dashboard',
    });

    const out = await history(['-o', 'json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const parsed = JSON.parse(out.stdout) as HistoryJson;
    for (const node of nodes) {
      const seen = timeline.of('flaky', node).map((r) => [`${r.runId}#${r.attempt}`, r.exitCode, r.phase]);
      const recorded = (parsed.nodes.find((n) => n.node === node)?.runs ?? []).flatMap((run) =>
        run.attempts.map((a) => [`${run.runId}#${a.attempt}`, a.exitCode, a.outcome]),
      );
      expect(seen).toHaveLength(2);
      expect(recorded).toEqual(seen);
      expect(recorded.map(([, exitCode, outcome]) => [exitCode, outcome])).toEqual([
        [3, 'Failed'],
        [3, 'Failed'],
      ]);
    }
  });

  it("a deleted job's history stays readable for deletedJobLogSeconds, then is gone", {
    timeout: 90_000,
  }, async () => {
    const before = await history(['-o', 'json']);
    expect(before.code).toBe(0);
    await t.client.delete(Resources.reaperDaemonJobs, 'flaky', { namespace: t.namespace });
    const log = RedisKeys.djob(t.queuePrefix, t.namespace, 'flaky').log;
    // The scheduler forgot the job (its state is gone, its log expires): read it after that.
    await waitFor(async () => (await redis.ttl(log)) > 0, {
      description: "the deleted job's log to have its expiry",
    });
    const after = await history(['-o', 'json']);
    expect([after.code, after.stderr]).toEqual([0, '']);
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse(before.stdout));

    await waitFor(async () => (await redis.exists(log)) === 0, {
      description: "the deleted job's log to expire",
      timeoutMs: (RETENTION_SECONDS + 15) * 1000,
    });
    const gone = await history();
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(
      'no history of reaperdaemonjob "flaky" (never run, past its retention, or no Service ' +
        `${t.namespace}/reaper-flow-dashboard)\n`,
    );
  });
});
