// ReaperPod and ReaperOverlay end to end: real API server, Redis, the stand-in kubelet running the
// commands as processes on simulated nodes, and the watcher, scheduler and node agents in-process.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { desiredPod, type Persisted, parseReaperPod, type ReaperPod } from '@reaper-flow/domain';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, nodeLayout, removeNode } from '@reaper-flow/local-cluster';
import { overlayPaths } from '@reaper-flow/node-agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';

const suite = randomBytes(3).toString('hex');
const nodes = [`pl-${suite}-1`, `pl-${suite}-2`] as const;
const [nodeA, nodeB] = nodes;
const FINALIZER = 'reaper.io/overlay-cleanup';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface RpodObj {
  metadata: { name: string; uid: string; namespace: string };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    podName?: string;
    nodeName?: string;
    exitCode?: number;
    startTime?: string;
    completionTime?: string;
    message?: string;
    observedGeneration?: number;
    conditions?: Condition[];
  };
}
interface OverlayObj {
  metadata: { name: string; uid: string; finalizers?: string[]; deletionTimestamp?: string };
  spec: { resetPolicy?: string; resetGeneration?: number };
  status?: {
    phase?: string;
    observedResetGeneration?: number;
    message?: string;
    nodes?: { nodeName: string; ready: boolean; resetGeneration?: number; cleaned?: boolean }[];
  };
}
interface EventObj {
  involvedObject: { kind: string; name: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  count?: number;
  source?: { component?: string };
}
interface PodObj {
  metadata: { name: string; labels?: Record<string, string>; ownerReferences?: { uid: string }[] };
  spec: {
    nodeName?: string;
    volumes?: { name: string }[];
    containers?: { volumeMounts?: { name: string }[] }[];
  };
}

/**
 * The Pod without the ServiceAccount token volume that admission adds to every Pod, so the rest can
 * be compared with what desiredPod built (defaults the API server fills in are extra fields).
 */
function withoutTokenVolume(pod: PodObj | undefined): PodObj | undefined {
  if (!pod) return pod;
  const injected = (v: { name: string }) => v.name.startsWith('kube-api-access-');
  const volumes = pod.spec.volumes?.filter((v) => !injected(v));
  const containers = pod.spec.containers?.map((c) => {
    const mounts = c.volumeMounts?.filter((m) => !injected(m));
    const { volumeMounts: _dropped, ...rest } = c;
    return mounts && mounts.length > 0 ? { ...rest, volumeMounts: mounts } : rest;
  });
  const { volumes: _v, containers: _c, ...spec } = pod.spec;
  return {
    ...pod,
    spec: {
      ...spec,
      ...(containers ? { containers } : {}),
      ...(volumes && volumes.length > 0 ? { volumes } : {}),
    },
  };
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

describe('pipeline: ReaperPod and ReaperOverlay', () => {
  const t = useTestNamespace('pipeline');
  let apps: RunningApps;
  let client: KubeClient;

  beforeAll(async () => {
    const env = testEnv();
    client = t.client;
    for (const name of nodes) await addNode(client, { name });
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: t.queuePrefix,
      nodes,
    });
  }, 120_000);

  afterAll(async () => {
    // Overlays hold the cleanup finalizer: delete them while the agents still run, so the
    // namespace can go away and the agents' state dirs are left clean.
    if (apps && client) {
      const left = await client.list<OverlayObj>(Resources.reaperOverlays, { namespace: t.namespace });
      for (const o of left.items)
        await client.delete(Resources.reaperOverlays, o.metadata.name, { namespace: t.namespace });
      await waitFor(
        async () =>
          (await client.list(Resources.reaperOverlays, { namespace: t.namespace })).items.length === 0,
        { description: 'the overlays of the test namespace gone', timeoutMs: 30_000 },
      ).catch((err: Error) => console.warn(`cleanup: ${err.message}`));
    }
    await apps?.stop();
    for (const name of nodes) await removeNode(client, name);
  }, 90_000);

  const ns = () => t.namespace;
  const create = <T>(ref: typeof Resources.reaperPods, obj: Record<string, unknown>) =>
    client.create<T>(
      ref,
      { ...obj, metadata: { ...(obj.metadata as object), namespace: ns() } },
      { namespace: ns() },
    );
  const getRpod = (name: string) => client.get<RpodObj>(Resources.reaperPods, name, { namespace: ns() });
  const getOverlay = (name: string) =>
    client.get<OverlayObj>(Resources.reaperOverlays, name, { namespace: ns() });
  const getPod = (name: string) => client.get<PodObj>(Resources.pods, name, { namespace: ns() });
  const rpodIn = (name: string, phase: string) => async () => {
    const r = await getRpod(name);
    return r?.status?.phase === phase ? r : undefined;
  };
  const condition = (r: RpodObj | undefined, type: string) =>
    r?.status?.conditions?.find((c) => c.type === type);
  /** The Events recorded about an object of the test namespace. */
  const eventsAbout = async (kind: string, name: string) =>
    (
      await client.list<EventObj>(Resources.events, {
        namespace: ns(),
        fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
      })
    ).items;

  const overlay = (name: string, resetPolicy: string) => ({
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperOverlay',
    metadata: { name },
    spec: { resetPolicy },
  });
  const rpod = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'reaper.io/v1alpha1',
    kind: 'ReaperPod',
    metadata: { name },
    spec,
  });

  /** Waits until the overlay is Ready and the agent of each of our nodes reports it ready. */
  const overlayReadyOnOurNodes = (name: string, generation = 0) =>
    waitFor(
      async () => {
        const o = await getOverlay(name);
        const ours = o?.status?.nodes?.filter((n) => (nodes as readonly string[]).includes(n.nodeName)) ?? [];
        return o?.status?.phase === 'Ready' &&
          (o.status.observedResetGeneration ?? 0) >= generation &&
          ours.length === nodes.length &&
          ours.every((n) => n.ready && (n.resetGeneration ?? 0) >= generation)
          ? o
          : undefined;
      },
      {
        description: `ReaperOverlay ${name} Ready at generation ${generation} on ${nodes.join(', ')}`,
        timeoutMs: 60_000,
      },
    );

  const upperDir = (node: string, overlayName: string) =>
    overlayPaths(apps.stateDirOf(node), ns(), overlayName).upperDir;
  const overlayDir = (node: string, overlayName: string) =>
    overlayPaths(apps.stateDirOf(node), ns(), overlayName).overlayDir;
  /** Leaves a file in the overlay's upper dir, as a workload writing into the overlay would. */
  async function writeMarker(node: string, overlayName: string, marker: string): Promise<string> {
    const dir = upperDir(node, overlayName);
    await mkdir(dir, { recursive: true });
    const file = join(dir, marker);
    await writeFile(file, `${node}\n`);
    return file;
  }

  it('the seed ReaperPod examples end Succeeded with exit code 0, their Pods carrying the translated spec', {
    timeout: 120_000,
  }, async () => {
    const ex = examples('reaper-pods.yaml');
    const configMap = ex.get('ConfigMap/app-config');
    expect(configMap).toBeDefined();
    await create(Resources.configMaps, configMap as Record<string, unknown>);
    for (const name of ['hello-world', 'with-config']) {
      await create(Resources.reaperPods, ex.get(`ReaperPod/${name}`) as Record<string, unknown>);
    }
    for (const name of ['hello-world', 'with-config']) {
      const done = await waitFor(rpodIn(name, 'Succeeded'), {
        description: `${name} Succeeded`,
        timeoutMs: 60_000,
      });
      expect(done.status).toMatchObject({ exitCode: 0, podName: name, observedGeneration: 1 });
      expect(done.status?.nodeName).toBeTruthy();
      expect(done.status?.startTime).toBeTruthy();
      expect(done.status?.completionTime).toBeTruthy();
      expect(condition(done, 'Completed')).toMatchObject({ status: 'True', reason: 'Succeeded' });
      expect(condition(done, 'PodCreated')).toMatchObject({ status: 'True' });

      const parsed = parseReaperPod(done);
      if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
      const desired = desiredPod(parsed.value as Persisted<ReaperPod>);
      const pod = await getPod(name);
      expect(withoutTokenVolume(pod)).toMatchObject({ metadata: desired.metadata, spec: desired.spec });
      expect(pod?.metadata.ownerReferences?.map((r) => r.uid)).toEqual([done.metadata.uid]);
      const created = (await eventsAbout('ReaperPod', name)).find((e) => e.reason === 'PodCreated');
      expect(created).toMatchObject({
        type: 'Normal',
        involvedObject: { uid: done.metadata.uid },
        source: { component: 'reaper-flow-scheduler' },
      });
    }
  });

  it("a ReaperPod whose nodeSelector matches no node waits Pending with the kube-scheduler's reason, then runs on the node that gets the label", {
    timeout: 90_000,
  }, async () => {
    const ex = examples('reaper-pods.yaml');
    await create(Resources.reaperPods, ex.get('ReaperPod/compute-task') as Record<string, unknown>);
    const waiting = await waitFor(
      async () => {
        const r = await getRpod('compute-task');
        return condition(r, 'PodScheduled')?.reason === 'Unschedulable' ? r : undefined;
      },
      { description: 'compute-task unschedulable', timeoutMs: 30_000 },
    );
    expect(waiting.status?.phase).toBe('Pending');
    // The kube-scheduler's own reason, from the Pod's PodScheduled condition.
    expect(waiting.status?.message).toMatch(/^not scheduled: 0\/\d+ nodes are available: /);
    expect(waiting.status?.message).toContain("didn't match Pod's node affinity/selector");

    await client.patch(Resources.nodes, nodeB, 'merge', {
      metadata: { labels: { 'workload-type': 'compute' } },
    });
    try {
      const done = await waitFor(rpodIn('compute-task', 'Succeeded'), {
        description: 'compute-task Succeeded',
        timeoutMs: 60_000,
      });
      expect(done.status).toMatchObject({ exitCode: 0, nodeName: nodeB });
    } finally {
      await client.patch(Resources.nodes, nodeB, 'merge', {
        metadata: { labels: { 'workload-type': null } },
      });
    }
  });

  it('a ReaperPod naming a missing overlay waits Pending with a clear message, then runs once the overlay exists', {
    timeout: 120_000,
  }, async () => {
    const ex = examples('overlay.yaml');
    await create(Resources.reaperPods, ex.get('ReaperPod/install-slurm') as Record<string, unknown>);
    const waiting = await waitFor(
      async () => {
        const r = await getRpod('install-slurm');
        return r?.status?.message ? r : undefined;
      },
      { description: 'install-slurm reporting why it waits', timeoutMs: 30_000 },
    );
    expect(waiting.status).toMatchObject({
      phase: 'Pending',
      message: 'waiting for ReaperOverlay "slurm": not found',
    });
    expect(condition(waiting, 'OverlayReady')).toMatchObject({ status: 'False', reason: 'OverlayNotFound' });
    expect(await getPod('install-slurm')).toBeUndefined();

    await create(Resources.reaperOverlays, ex.get('ReaperOverlay/slurm') as Record<string, unknown>);
    const done = await waitFor(rpodIn('install-slurm', 'Succeeded'), {
      description: 'install-slurm Succeeded',
      timeoutMs: 60_000,
    });
    expect(done.status?.exitCode).toBe(0);
    expect(condition(done, 'OverlayReady')).toMatchObject({ status: 'True' });
    const slurm = await getOverlay('slurm');
    expect(slurm?.status?.phase).toBe('Ready');
    expect(slurm?.metadata.finalizers).toContain(FINALIZER);
  });

  it('resetting to generation 1 then 2 clears every node overlay dir and ends Ready with observedResetGeneration 2', {
    timeout: 180_000,
  }, async () => {
    await create(Resources.reaperOverlays, overlay('scratch', 'Manual'));
    await overlayReadyOnOurNodes('scratch');
    for (const generation of [1, 2]) {
      const markers = await Promise.all(
        nodes.map((n) => writeMarker(n, 'scratch', `before-gen-${generation}`)),
      );
      await client.patch(
        Resources.reaperOverlays,
        'scratch',
        'merge',
        { spec: { resetGeneration: generation } },
        {
          namespace: ns(),
        },
      );
      const o = await overlayReadyOnOurNodes('scratch', generation);
      expect(o.status?.observedResetGeneration).toBe(generation);
      expect(o.status?.message).toMatch(new RegExp(`^reset to generation ${generation} on \\d+ nodes?`));
      for (const file of markers) expect(existsSync(file), `${file} after reset ${generation}`).toBe(false);
      for (const node of nodes) expect(existsSync(upperDir(node, 'scratch'))).toBe(true);
    }
  });

  it('a reset waits on the node where a workload uses the overlay, and new workloads wait for the reset', {
    timeout: 120_000,
  }, async () => {
    await create(Resources.reaperOverlays, overlay('shared', 'Manual'));
    await overlayReadyOnOurNodes('shared');
    await create(
      Resources.reaperPods,
      rpod('long', { command: ['/bin/sh', '-c', 'sleep 3600'], overlayName: 'shared', nodeName: nodeA }),
    );
    await waitFor(rpodIn('long', 'Running'), { description: 'long Running', timeoutMs: 60_000 });
    const [onA, onB] = await Promise.all([
      writeMarker(nodeA, 'shared', 'data'),
      writeMarker(nodeB, 'shared', 'data'),
    ]);

    await client.patch(
      Resources.reaperOverlays,
      'shared',
      'merge',
      { spec: { resetGeneration: 1 } },
      { namespace: ns() },
    );
    const resetting = await waitFor(
      async () => {
        const o = await getOverlay('shared');
        return o?.status?.phase === 'Resetting' &&
          o.status.message?.includes(`${nodeA} waits for ReaperPod long`) &&
          !existsSync(onB)
          ? o
          : undefined;
      },
      { description: `shared Resetting, ${nodeB} reset, ${nodeA} waiting for long`, timeoutMs: 60_000 },
    );
    expect(resetting.status?.observedResetGeneration).toBe(0);
    expect(existsSync(onA)).toBe(true);

    await create(Resources.reaperPods, rpod('late', { command: ['/bin/true'], overlayName: 'shared' }));
    const late = await waitFor(
      async () => {
        const r = await getRpod('late');
        return r?.status?.message?.includes('is Resetting') ? r : undefined;
      },
      { description: 'late waiting for the reset', timeoutMs: 30_000 },
    );
    expect(late.status?.message).toBe('waiting for ReaperOverlay "shared": it is Resetting');
    expect(await getPod('late')).toBeUndefined();

    // The Pod is deleted too rather than left to the garbage collector: a controller manager
    // started with the test cluster discovers the just-installed CRDs only on its periodic resync.
    await client.delete(Resources.reaperPods, 'long', { namespace: ns() });
    await client.delete(Resources.pods, 'long', { namespace: ns() });
    await overlayReadyOnOurNodes('shared', 1);
    expect(existsSync(onA)).toBe(false);
    await waitFor(rpodIn('late', 'Succeeded'), {
      description: 'late Succeeded after the reset',
      timeoutMs: 60_000,
    });
  });

  it('deleting an overlay cleans every node state dir before the object disappears', {
    timeout: 120_000,
  }, async () => {
    await create(Resources.reaperOverlays, overlay('doomed', 'Manual'));
    await overlayReadyOnOurNodes('doomed');
    for (const node of nodes) await writeMarker(node, 'doomed', 'data');
    await client.delete(Resources.reaperOverlays, 'doomed', { namespace: ns() });
    await waitFor(async () => (await getOverlay('doomed')) === undefined, {
      description: 'ReaperOverlay doomed gone',
      timeoutMs: 60_000,
    });
    for (const node of nodes)
      expect(existsSync(overlayDir(node, 'doomed')), `overlay dir on ${node}`).toBe(false);
  });

  it("an overlay deleted while a ReaperPod uses it keeps that node's data until the workload ends, and new workloads wait", {
    timeout: 150_000,
  }, async () => {
    const { kubeletStateDir } = testEnv();
    expect(kubeletStateDir, 'the stand-in kubelet state dir (hostPath volumes live there)').not.toBe('');
    // The workload runs until the test drops a file into its hostPath volume: it ends on its own,
    // when the test says so, with no sleep standing in for "long enough".
    const gatePath = `/reaper-flow-test/${suite}-holder`;
    const release = join(nodeLayout(kubeletStateDir, nodeA).hostDir, gatePath, 'release');
    await create(Resources.reaperOverlays, overlay('guarded', 'Manual'));
    await overlayReadyOnOurNodes('guarded');
    await create(
      Resources.reaperPods,
      rpod('holder', {
        command: ['/bin/sh', '-c', 'while [ ! -e /gate/release ]; do sleep 0.1; done'],
        overlayName: 'guarded',
        nodeName: nodeA,
        volumes: [{ name: 'gate', mountPath: '/gate', hostPath: gatePath }],
      }),
    );
    await waitFor(rpodIn('holder', 'Running'), { description: 'holder Running', timeoutMs: 60_000 });
    const [onA, onB] = await Promise.all([
      writeMarker(nodeA, 'guarded', 'data'),
      writeMarker(nodeB, 'guarded', 'data'),
    ]);

    await client.delete(Resources.reaperOverlays, 'guarded', { namespace: ns() });
    const waiting = await waitFor(
      async () => {
        const o = await getOverlay('guarded');
        return o?.status?.phase === 'Deleting' &&
          o.status.message?.includes(`cleanup of ${nodeA} waits for ReaperPod holder`) &&
          !existsSync(onB)
          ? o
          : undefined;
      },
      { description: `guarded Deleting, ${nodeB} cleaned, ${nodeA} waiting for holder`, timeoutMs: 60_000 },
    );
    expect(waiting.metadata.finalizers).toContain(FINALIZER);
    expect(existsSync(onA), `the data on ${nodeA} under the running workload`).toBe(true);
    const waitEvent = await waitFor(
      async () => (await eventsAbout('ReaperOverlay', 'guarded')).find((e) => e.reason === 'CleanupWaiting'),
      { description: 'a CleanupWaiting Event about guarded', timeoutMs: 10_000 },
    );
    expect(waitEvent.message).toContain(`${nodeA} waits for ReaperPod holder`);

    await create(Resources.reaperPods, rpod('newcomer', { command: ['/bin/true'], overlayName: 'guarded' }));
    const newcomer = await waitFor(
      async () => {
        const r = await getRpod('newcomer');
        return condition(r, 'OverlayReady')?.reason === 'OverlayDeleting' ? r : undefined;
      },
      { description: 'newcomer waiting for the deleting overlay', timeoutMs: 30_000 },
    );
    expect(newcomer.status).toMatchObject({
      phase: 'Pending',
      message: 'waiting for ReaperOverlay "guarded": it is being deleted',
    });
    expect(await getPod('newcomer')).toBeUndefined();
    // Still held: nothing but the workload's end may release it.
    expect((await getOverlay('guarded'))?.metadata.finalizers).toContain(FINALIZER);
    expect(existsSync(onA)).toBe(true);

    await writeFile(release, '');
    await waitFor(async () => (await getOverlay('guarded')) === undefined, {
      description: 'ReaperOverlay guarded gone once holder ended',
      timeoutMs: 60_000,
    });
    expect((await getRpod('holder'))?.status?.phase).toBe('Succeeded');
    for (const node of nodes)
      expect(existsSync(overlayDir(node, 'guarded')), `overlay dir on ${node}`).toBe(false);
    const cleaned = (await eventsAbout('ReaperOverlay', 'guarded')).find((e) => e.reason === 'CleanedUp');
    expect(cleaned?.message).toMatch(/^on-disk data cleaned up on \d+ nodes?$/);
    expect(await getPod('newcomer')).toBeUndefined();
  });

  it('resetPolicy OnFailure resets the overlay on the node where a workload failed, and only there', {
    timeout: 120_000,
  }, async () => {
    await create(Resources.reaperOverlays, overlay('onfail', 'OnFailure'));
    await overlayReadyOnOurNodes('onfail');
    const [onA, onB] = await Promise.all([
      writeMarker(nodeA, 'onfail', 'data'),
      writeMarker(nodeB, 'onfail', 'data'),
    ]);
    await create(
      Resources.reaperPods,
      rpod('fails', { command: ['/bin/sh', '-c', 'exit 3'], overlayName: 'onfail', nodeName: nodeA }),
    );
    const failed = await waitFor(rpodIn('fails', 'Failed'), {
      description: 'fails Failed',
      timeoutMs: 60_000,
    });
    expect(failed.status).toMatchObject({ exitCode: 3, nodeName: nodeA });
    expect(condition(failed, 'Completed')).toMatchObject({ status: 'True', reason: 'Failed' });
    const failedEvent = await waitFor(
      async () => (await eventsAbout('ReaperPod', 'fails')).find((e) => e.reason === 'Failed'),
      { description: 'a Failed Event about ReaperPod fails', timeoutMs: 10_000 },
    );
    expect(failedEvent).toMatchObject({ type: 'Warning', involvedObject: { uid: failed.metadata.uid } });
    expect(failedEvent.message).toContain('exit code 3');
    await waitFor(() => !existsSync(onA), {
      description: `the overlay on ${nodeA} reset`,
      timeoutMs: 60_000,
    });
    expect(existsSync(onB)).toBe(true);
    expect((await getOverlay('onfail'))?.status?.phase).toBe('Ready');
  });

  it('resetPolicy OnDelete resets the overlay on the node of a deleted workload, and only there', {
    timeout: 120_000,
  }, async () => {
    await create(Resources.reaperOverlays, overlay('ondel', 'OnDelete'));
    await overlayReadyOnOurNodes('ondel');
    await create(
      Resources.reaperPods,
      rpod('uses-ondel', { command: ['/bin/true'], overlayName: 'ondel', nodeName: nodeB }),
    );
    await waitFor(rpodIn('uses-ondel', 'Succeeded'), {
      description: 'uses-ondel Succeeded',
      timeoutMs: 60_000,
    });
    const [onA, onB] = await Promise.all([
      writeMarker(nodeA, 'ondel', 'data'),
      writeMarker(nodeB, 'ondel', 'data'),
    ]);
    await client.delete(Resources.reaperPods, 'uses-ondel', { namespace: ns() });
    await waitFor(() => !existsSync(onB), {
      description: `the overlay on ${nodeB} reset`,
      timeoutMs: 60_000,
    });
    expect(existsSync(onA)).toBe(true);
  });

  it('a same-name Pod owned by something else is never adopted or mirrored', {
    timeout: 60_000,
  }, async () => {
    await create(Resources.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'squatter' },
      spec: { containers: [{ name: 'main', image: 'example/other:v1' }] },
    });
    await create(Resources.reaperPods, rpod('squatter', { command: ['/bin/true'] }));
    const blocked = await waitFor(
      async () => {
        const r = await getRpod('squatter');
        return condition(r, 'PodCreated')?.reason === 'PodNameTaken' ? r : undefined;
      },
      { description: 'squatter reporting the name clash', timeoutMs: 30_000 },
    );
    expect(blocked.status).toMatchObject({
      phase: 'Pending',
      message: 'a Pod named squatter exists and is not owned by this ReaperPod',
    });
    expect(blocked.status?.podName).toBeUndefined();
  });
});
