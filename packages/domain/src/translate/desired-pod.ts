import type { Container, EnvVar, OwnerReference, Pod, Volume, VolumeMount } from '../k8s-types';
import { REAPER_API_VERSION, REAPER_POD_KIND } from '../schemas/api';
import type { ReaperEnvVar } from '../schemas/env-var';
import type { Persisted } from '../schemas/object-meta';
import type { ReaperPod, ReaperPodSpec } from '../schemas/reaper-pod';
import type { ReaperVolume } from '../schemas/volume';
import {
  DAEMON_JOB_LABEL,
  DAEMON_JOB_NODE_LABEL,
  DNS_MODE_ANNOTATION,
  labelValue,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  OVERLAY_NAME_ANNOTATION,
  OWNER_LABEL,
  REAPER_POD_LABEL,
} from './labels';

/** RuntimeClass that routes the Pod to the Reaper runtime instead of a container runtime. */
export const REAPER_RUNTIME_CLASS = 'reaper-v2';
/** The Reaper runtime ignores the image, but a Pod must name one. */
export const PLACEHOLDER_IMAGE = 'reaper/placeholder:v1';
/** Name of the single container of a backing Pod. */
export const MAIN_CONTAINER = 'main';

function toEnvVar(env: ReaperEnvVar): EnvVar {
  const secret = env.valueFrom?.secretKeyRef;
  const configMap = env.valueFrom?.configMapKeyRef;
  if (secret) return { name: env.name, valueFrom: { secretKeyRef: { ...secret } } };
  if (configMap) return { name: env.name, valueFrom: { configMapKeyRef: { ...configMap } } };
  return env.value === undefined ? { name: env.name } : { name: env.name, value: env.value };
}

function toVolume(v: ReaperVolume): Volume {
  if (v.configMap !== undefined) return { name: v.name, configMap: { name: v.configMap } };
  if (v.secret !== undefined) return { name: v.name, secret: { secretName: v.secret } };
  if (v.hostPath !== undefined) return { name: v.name, hostPath: { path: v.hostPath } };
  return { name: v.name, emptyDir: {} };
}

function toVolumeMount(v: ReaperVolume): VolumeMount {
  return {
    name: v.name,
    mountPath: v.mountPath,
    ...(v.readOnly === undefined ? {} : { readOnly: v.readOnly }),
  };
}

function mainContainer(spec: ReaperPodSpec): Container {
  const securityContext = {
    ...(spec.runAsUser === undefined ? {} : { runAsUser: spec.runAsUser }),
    ...(spec.runAsGroup === undefined ? {} : { runAsGroup: spec.runAsGroup }),
  };
  return {
    name: MAIN_CONTAINER,
    image: PLACEHOLDER_IMAGE,
    command: [...spec.command],
    ...(spec.args === undefined ? {} : { args: [...spec.args] }),
    ...(spec.env === undefined ? {} : { env: spec.env.map(toEnvVar) }),
    ...(spec.workingDir === undefined ? {} : { workingDir: spec.workingDir }),
    ...(spec.volumes === undefined ? {} : { volumeMounts: spec.volumes.map(toVolumeMount) }),
    ...(Object.keys(securityContext).length === 0 ? {} : { securityContext }),
  };
}

function podLabels(rpod: ReaperPod): Record<string, string> {
  const labels: Record<string, string> = {
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [REAPER_POD_LABEL]: labelValue(rpod.metadata.name),
    [OWNER_LABEL]: labelValue(rpod.metadata.name),
  };
  // Lets `kubectl get pods -l reaper.io/daemon-job=x` find the Pods of a DaemonJob directly.
  for (const key of [DAEMON_JOB_LABEL, NODE_LABEL, DAEMON_JOB_NODE_LABEL]) {
    const value = rpod.metadata.labels?.[key];
    if (value !== undefined) labels[key] = value;
  }
  return labels;
}

function podAnnotations(spec: ReaperPodSpec): Record<string, string> {
  return {
    ...(spec.dnsMode === undefined ? {} : { [DNS_MODE_ANNOTATION]: spec.dnsMode }),
    ...(spec.overlayName === undefined ? {} : { [OVERLAY_NAME_ANNOTATION]: spec.overlayName }),
  };
}

/**
 * The backing Pod of a ReaperPod: same name and namespace, owned by the ReaperPod (so it is
 * garbage-collected with it), run by the Reaper runtime class with one placeholder-image container.
 * Pure and deterministic: creating it twice yields the same object, so "already exists and owned
 * by this uid" means the work is done.
 */
export function desiredPod(rpod: Persisted<ReaperPod>): Pod {
  const { metadata, spec } = rpod;
  const owner: OwnerReference = {
    apiVersion: REAPER_API_VERSION,
    kind: REAPER_POD_KIND,
    name: metadata.name,
    uid: metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  const annotations = podAnnotations(spec);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      labels: podLabels(rpod),
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
      ownerReferences: [owner],
    },
    spec: {
      runtimeClassName: REAPER_RUNTIME_CLASS,
      restartPolicy: 'Never',
      containers: [mainContainer(spec)],
      ...(spec.volumes === undefined ? {} : { volumes: spec.volumes.map(toVolume) }),
      ...(spec.nodeSelector === undefined ? {} : { nodeSelector: { ...spec.nodeSelector } }),
      ...(spec.nodeName === undefined ? {} : { nodeName: spec.nodeName }),
      ...(spec.tolerations === undefined ? {} : { tolerations: spec.tolerations.map((t) => ({ ...t })) }),
    },
  };
}
