import type { ApiPod as Pod } from '@reaper-flow/domain';
import type { KubeClient } from '@reaper-flow/k8s';
import type { Logger } from '../log';
import { containerEnv } from './pod-env';
import { ContainerConfigError, PodSources } from './pod-sources';
import { type Mount, materializeVolumes } from './pod-volumes';

export interface PodConfigRequest {
  readonly client: KubeClient;
  /** The pod as last seen (re-read on each attempt). */
  readonly pod: () => Pod;
  readonly node: string;
  readonly podDir: string;
  readonly hostDir: string;
  readonly log: Logger;
  /** How long a missing ConfigMap/Secret is waited for before the pod fails. */
  readonly graceMs: number;
  readonly cancelled: () => boolean;
  /** Called once when the first attempt finds a referenced object missing. */
  readonly onWaiting: (message: string) => void;
}

/**
 * The first container's environment and the pod's materialised volumes. A referenced object that
 * does not exist yet is waited for a little, as a real kubelet keeps retrying (it is often created
 * right after the pod); a missing key, or an object still missing after `graceMs`, is a
 * ContainerConfigError.
 */
export async function resolvePodConfig(
  req: PodConfigRequest,
): Promise<{ env: Record<string, string>; mounts: Mount[] }> {
  const deadline = Date.now() + req.graceMs;
  let reported = false;
  for (;;) {
    const pod = req.pod();
    const container = pod.spec.containers[0];
    if (!container) throw new ContainerConfigError('pod has no containers', false);
    const sources = new PodSources(req.client, pod.metadata.namespace ?? 'default');
    try {
      const env = await containerEnv(pod, container, req.node, sources);
      const mounts = await materializeVolumes({
        client: req.client,
        pod,
        sources,
        podDir: req.podDir,
        hostDir: req.hostDir,
        log: req.log,
      });
      return { env, mounts };
    } catch (err) {
      const retry =
        err instanceof ContainerConfigError && err.retryable && Date.now() < deadline && !req.cancelled();
      if (!retry) throw err;
      if (!reported) {
        reported = true;
        req.onWaiting(err.message);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
