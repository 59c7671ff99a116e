import type { ConfigMap } from '@reaper-flow/domain';
import { ApiError, type KubeClient, Resources } from '@reaper-flow/k8s';

/** ConfigMap (in kube-system) holding the stand-in kubelet's injected failures. */
export const FAULTS_CONFIGMAP = 'stand-in-kubelet-faults';
export const FAULTS_NAMESPACE = 'kube-system';

/** Data key of a fault: `<namespace>.<job>.<node>`, value = runs left to fail. */
export function faultKey(namespace: string, job: string, node: string): string {
  return `${namespace}.${job}.${node}`;
}

/**
 * Makes the next `times` runs of `job` (pods labelled reaper.io/daemon-job=<job>, or named <job>) in
 * `namespace` on `node` fail with exit 1, without changing the job itself. `times` 0 clears it.
 */
export async function setNodeFault(
  client: KubeClient,
  fault: { namespace: string; job: string; node: string; times: number },
): Promise<void> {
  if (!Number.isInteger(fault.times) || fault.times < 0)
    throw new Error(`times must be an integer >= 0, got ${fault.times}`);
  const key = faultKey(fault.namespace, fault.job, fault.node);
  await updateFaults(client, (data) => {
    const next = { ...data };
    if (fault.times === 0) delete next[key];
    else next[key] = String(fault.times);
    return next;
  });
}

/**
 * Consumes one injected failure for `key`: true if one was pending. The decrement is an update with
 * the read resourceVersion, so two kubelets (or a CLI call racing the kubelet) never both take the
 * same failure.
 */
export async function takeFault(client: KubeClient, key: string): Promise<boolean> {
  let taken = false;
  await updateFaults(client, (data) => {
    const left = Number(data[key] ?? '0');
    taken = Number.isFinite(left) && left > 0;
    if (!taken) return undefined;
    const next = { ...data };
    if (left - 1 > 0) next[key] = String(left - 1);
    else delete next[key];
    return next;
  });
  return taken;
}

/** Read-modify-write of the faults ConfigMap with optimistic concurrency; `mutate` returning undefined means no change. */
async function updateFaults(
  client: KubeClient,
  mutate: (data: Readonly<Record<string, string>>) => Record<string, string> | undefined,
): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const cm = await client.get<ConfigMap>(Resources.configMaps, FAULTS_CONFIGMAP, {
      namespace: FAULTS_NAMESPACE,
    });
    const data = mutate(cm?.data ?? {});
    if (!data) return;
    try {
      if (!cm) {
        await client.create(
          Resources.configMaps,
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: FAULTS_CONFIGMAP, namespace: FAULTS_NAMESPACE },
            data,
          },
          { namespace: FAULTS_NAMESPACE },
        );
      } else {
        await client.replace(
          Resources.configMaps,
          FAULTS_CONFIGMAP,
          { ...cm, data },
          { namespace: FAULTS_NAMESPACE },
        );
      }
      return;
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'Conflict' || err.code === 'AlreadyExists')) continue;
      throw err;
    }
  }
  throw new Error(`could not update ${FAULTS_NAMESPACE}/${FAULTS_CONFIGMAP}: too many conflicts`);
}
