// The local cluster behaves like a real one where users look: `kubectl logs` of a ReaperPod goes
// through the API server to the stand-in kubelet's per-node server, and a ReaperOverlay is a real
// overlay filesystem inside the Pods that name it (shared, isolated, reset, never on the host).
// Real API server, kube-scheduler, Redis, stand-in kubelet; watcher, scheduler, node agents in-process.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, nodeLayout, removeNode } from '@reaper-flow/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubectl, testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';

const suite = randomBytes(3).toString('hex');
const nodes = [`lc-${suite}-1`, `lc-${suite}-2`] as const;
const [nodeA, nodeB] = nodes;
/** The host path the overlay Pods write to: it must never appear on the host. */
const HOST_FILE = `/tmp/reaper-flow-overlay-test-${suite}.txt`;

interface RpodObj {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; exitCode?: number; nodeName?: string; message?: string };
}
interface OverlayObj {
  metadata: { name: string };
  spec: { resetGeneration?: number };
  status?: { phase?: string; observedResetGeneration?: number };
}
interface DaemonJobObj {
  status?: { phase?: string; nodeStatuses?: { nodeName: string; phase: string }[] };
}

/** Whether a process runs (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** The manifests of an infra/examples file, by kind and name. */
function examples(file: string): Map<string, Record<string, unknown>> {
  const text = readFileSync(fileURLToPath(new URL(`../infra/examples/${file}`, import.meta.url)), 'utf8');
  const out = new Map<string, Record<string, unknown>>();
  for (const doc of parseAllDocuments(text)) {
    const obj = doc.toJS() as { kind: string; metadata: { name: string } } | null;
    if (obj) out.set(`${obj.kind}/${obj.metadata.name}`, obj);
  }
  return out;
}

describe('the local cluster as a user sees it', () => {
  const t = useTestNamespace('local-cluster');
  const other = useTestNamespace('local-cluster-other');
  let apps: RunningApps;
  let client: KubeClient;
  let kubeletStateDir: string;

  beforeAll(async () => {
    const env = testEnv();
    kubeletStateDir = env.kubeletStateDir;
    expect(kubeletStateDir, 'the stand-in kubelet state dir').not.toBe('');
    client = t.client;
    for (const name of nodes) await addNode(client, { name, labels: { role: 'compute' } });
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: t.queuePrefix,
      nodes,
      // The agents keep the overlays where the stand-in kubelet mounts them from.
      stateDirOf: (node) => nodeLayout(kubeletStateDir, node).reaperDir,
    });
  }, 120_000);

  afterAll(async () => {
    await apps?.stop();
    for (const name of nodes) await removeNode(client, name);
  }, 60_000);

  const create = (
    resource: typeof Resources.reaperPods,
    body: Record<string, unknown>,
    namespace = t.namespace,
  ) => client.create(resource, body, { namespace });

  async function reaperPod(
    name: string,
    spec: Record<string, unknown>,
    namespace = t.namespace,
  ): Promise<void> {
    await create(
      Resources.reaperPods,
      { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperPod', metadata: { name }, spec },
      namespace,
    );
  }

  async function overlay(name: string, namespace = t.namespace): Promise<void> {
    await create(
      Resources.reaperOverlays,
      { apiVersion: 'reaper.io/v1alpha1', kind: 'ReaperOverlay', metadata: { name }, spec: {} },
      namespace,
    );
  }

  const finished = (name: string, namespace = t.namespace) =>
    waitFor(
      async () => {
        const r = await client.get<RpodObj>(Resources.reaperPods, name, { namespace });
        return r?.status?.phase === 'Succeeded' || r?.status?.phase === 'Failed' ? r : undefined;
      },
      { description: `ReaperPod ${namespace}/${name} finished`, timeoutMs: 60_000 },
    );

  const logs = async (args: readonly string[], namespace = t.namespace) => {
    const out = await kubectl(['logs', '-n', namespace, ...args]);
    return { ...out, text: out.stdout };
  };

  /** Exits 0 and says ABSENT when the file is not there, 1 and SEEN when it is. */
  const probe = `if [ -e ${HOST_FILE} ]; then echo SEEN; cat ${HOST_FILE}; exit 1; fi; echo ABSENT`;

  it('kubectl logs of a ReaperPod: -f while it runs, then its stdout and stderr once it finished', {
    timeout: 90_000,
  }, async () => {
    await reaperPod('talker', {
      command: ['/bin/sh', '-c', 'echo to-stdout; echo to-stderr >&2; sleep 2; echo last-line'],
      nodeName: nodeA,
    });
    await waitFor(
      async () =>
        (await client.get<RpodObj>(Resources.reaperPods, 'talker', { namespace: t.namespace }))?.status
          ?.phase === 'Running',
      { description: 'talker Running', timeoutMs: 30_000 },
    );
    const followed = await logs(['-f', 'talker']);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.text.split('\n').sort()).toEqual(['', 'last-line', 'to-stderr', 'to-stdout']);
    expect(followed.text.trimEnd().endsWith('last-line')).toBe(true);

    expect((await finished('talker')).status?.phase).toBe('Succeeded');
    const done = await logs(['talker']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.text.split('\n').sort()).toEqual(['', 'last-line', 'to-stderr', 'to-stdout']);
    expect((await logs(['talker', '--tail=1'])).text).toBe('last-line\n');
    expect((await logs(['talker', '--tail=1', '--timestamps'])).text).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z last-line\n$/,
    );
    // The original controller's label on the backing Pod selects it.
    expect((await logs(['-l', 'reaper.io/owner=talker', '--tail=1'])).text).toBe('last-line\n');
    const previous = await logs(['talker', '--previous']);
    expect(previous.code).not.toBe(0);
    expect(previous.stderr).toContain('previous terminated container "main" in pod "talker" not found');
  });

  it('a ReaperOverlay is a shared overlay in the Pods on its node: isolated by name, namespace and node, gone after a reset, never on the host', {
    timeout: 180_000,
  }, async () => {
    await overlay('o1');
    await overlay('o2');
    await overlay('o1', other.namespace);
    await waitFor(
      async () =>
        (await client.get<OverlayObj>(Resources.reaperOverlays, 'o1', { namespace: t.namespace }))?.status
          ?.phase === 'Ready',
      { description: 'overlay o1 Ready', timeoutMs: 30_000 },
    );

    await reaperPod('writer', {
      command: ['/bin/sh', '-c', `echo written-${suite} > ${HOST_FILE} && cat ${HOST_FILE}`],
      overlayName: 'o1',
      nodeName: nodeA,
    });
    expect((await finished('writer')).status).toMatchObject({ phase: 'Succeeded', exitCode: 0 });
    // The write landed in the overlay's upper dir on node A, not on the host.
    const upper = join(nodeLayout(kubeletStateDir, nodeA).reaperDir, 'overlay', t.namespace, 'o1', 'upper');
    expect(readFileSync(join(upper, HOST_FILE), 'utf8')).toBe(`written-${suite}\n`);
    expect(existsSync(HOST_FILE)).toBe(false);
    // One overlay mount per node and overlay, held by the runtime's namespace helper.
    const helperPidFile = join(nodeLayout(kubeletStateDir, nodeA).reaperDir, 'ns', `${t.namespace}--o1.pid`);
    const helper = Number(readFileSync(helperPidFile, 'utf8'));
    expect(alive(helper)).toBe(true);

    await reaperPod('reader', {
      command: ['/bin/sh', '-c', `cat ${HOST_FILE}`],
      overlayName: 'o1',
      nodeName: nodeA,
    });
    await reaperPod('other-name', { command: ['/bin/sh', '-c', probe], overlayName: 'o2', nodeName: nodeA });
    await reaperPod('no-overlay', { command: ['/bin/sh', '-c', probe], nodeName: nodeA });
    await reaperPod('other-node', { command: ['/bin/sh', '-c', probe], overlayName: 'o1', nodeName: nodeB });
    await reaperPod(
      'other-namespace',
      { command: ['/bin/sh', '-c', probe], overlayName: 'o1', nodeName: nodeA },
      other.namespace,
    );
    expect((await finished('reader')).status?.phase).toBe('Succeeded');
    expect((await logs(['reader'])).text).toBe(`written-${suite}\n`);
    expect(Number(readFileSync(helperPidFile, 'utf8')), 'the reader entered the same overlay').toBe(helper);
    for (const name of ['other-name', 'no-overlay', 'other-node']) {
      expect((await finished(name)).status?.phase, name).toBe('Succeeded');
      expect((await logs([name])).text, name).toBe('ABSENT\n');
    }
    expect((await finished('other-namespace', other.namespace)).status?.phase).toBe('Succeeded');
    expect((await logs(['other-namespace'], other.namespace)).text).toBe('ABSENT\n');

    await client.patch(
      Resources.reaperOverlays,
      'o1',
      'merge',
      { spec: { resetGeneration: 1 } },
      { namespace: t.namespace },
    );
    await waitFor(
      async () => {
        const o = await client.get<OverlayObj>(Resources.reaperOverlays, 'o1', { namespace: t.namespace });
        return o?.status?.observedResetGeneration === 1 && o.status.phase === 'Ready';
      },
      { description: 'overlay o1 reset (observedResetGeneration 1, Ready)', timeoutMs: 60_000 },
    );
    await reaperPod('after-reset', { command: ['/bin/sh', '-c', probe], overlayName: 'o1', nodeName: nodeA });
    expect((await finished('after-reset')).status?.phase).toBe('Succeeded');
    expect((await logs(['after-reset'])).text).toBe('ABSENT\n');
    // The node agent's reset stopped the helper; the next Pod mounted a fresh overlay.
    expect(alive(helper)).toBe(false);
    expect(Number(readFileSync(helperPidFile, 'utf8'))).not.toBe(helper);
    expect(existsSync(join(upper, HOST_FILE))).toBe(false);
    expect(existsSync(HOST_FILE)).toBe(false);
  });

  it('the composable seed DaemonJobs share overlay node-config: install-packages reads what mount-filesystems wrote, on every compute node', {
    timeout: 180_000,
  }, async () => {
    const jobs = examples('daemon-jobs.yaml');
    await create(
      Resources.reaperOverlays,
      examples('overlay.yaml').get('ReaperOverlay/node-config') as Record<string, unknown>,
    );
    for (const name of ['mount-filesystems', 'install-packages']) {
      await create(
        Resources.reaperDaemonJobs,
        jobs.get(`ReaperDaemonJob/${name}`) as Record<string, unknown>,
      );
    }
    const job = await waitFor(
      async () => {
        const j = await client.get<DaemonJobObj>(Resources.reaperDaemonJobs, 'install-packages', {
          namespace: t.namespace,
        });
        return j?.status?.phase === 'Completed' || j?.status?.phase === 'PartiallyFailed' ? j : undefined;
      },
      { description: 'install-packages finished', timeoutMs: 150_000 },
    );
    expect(job.status?.phase).toBe('Completed');
    const ran = new Map(job.status?.nodeStatuses?.map((n) => [n.nodeName, n.phase]));
    for (const node of nodes) {
      expect(ran.get(node), node).toBe('Succeeded');
      const out = await logs([
        '-l',
        `reaper.io/daemon-job=install-packages,reaper.io/daemon-job-node=${node}`,
      ]);
      expect(out.text, node).toContain(`node-config prepared on ${node} by mount-filesystems`);
    }
  });
});
