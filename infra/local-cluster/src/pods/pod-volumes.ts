import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, posix } from 'node:path';
import type {
  DownwardApiFile,
  KeyToPath,
  ApiPod as Pod,
  ProjectionSource,
  Volume,
} from '@reaper-flow/domain';
import type { KubeClient } from '@reaper-flow/k8s';
import type { Logger } from '../log';
import { ContainerConfigError, fieldValue, type PodSources } from './pod-sources';

/** A bind mount of the pod's sandbox: host `source` appears at `target` inside it. */
export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  readonly isFile: boolean;
}

export interface VolumeContext {
  readonly client: KubeClient;
  readonly pod: Pod;
  readonly sources: PodSources;
  /** Per-pod directory (`<nodeRoot>/pods/<uid>`). */
  readonly podDir: string;
  /** `<nodeRoot>/host`: where hostPath volumes really live, so the host is never touched. */
  readonly hostDir: string;
  readonly log: Logger;
}

/**
 * Materialises the volumes the first container mounts, as files under the pod dir (ConfigMap and
 * Secret keys one file each, Secret data decoded; emptyDir a directory; hostPath under the node's
 * fake host dir), and returns the bind mounts, parents before children.
 */
export async function materializeVolumes(ctx: VolumeContext): Promise<Mount[]> {
  const container = ctx.pod.spec.containers[0];
  const volumes = new Map((ctx.pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const mounts: Mount[] = [];
  const prepared = new Map<string, string | undefined>();
  for (const vm of container?.volumeMounts ?? []) {
    const volume = volumes.get(vm.name);
    if (!volume)
      throw new ContainerConfigError(`volumeMount ${vm.name} refers to no volume of the pod`, false);
    if (!prepared.has(vm.name)) prepared.set(vm.name, await prepare(ctx, volume));
    const root = prepared.get(vm.name);
    if (root === undefined) continue;
    const source = vm.subPath ? join(root, safeRelative(vm.subPath)) : root;
    if (vm.subPath) await mkdir(source, { recursive: true }).catch(() => undefined);
    const isFile = (await stat(source)).isFile();
    mounts.push({ source, target: posix.normalize(vm.mountPath), readOnly: !!vm.readOnly, isFile });
  }
  return mounts.sort((a, b) => a.target.split('/').length - b.target.split('/').length);
}

/** Creates one volume's content; undefined for a type the stand-in kubelet does not provide. */
async function prepare(ctx: VolumeContext, volume: Volume): Promise<string | undefined> {
  const dir = join(ctx.podDir, 'volumes', volume.name);
  if (volume.emptyDir) {
    await mkdir(dir, { recursive: true });
    return dir;
  }
  if (volume.hostPath) {
    const path = join(ctx.hostDir, safeRelative(volume.hostPath.path));
    if (volume.hostPath.type === 'File' || volume.hostPath.type === 'FileOrCreate') {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, '', { flag: 'a' });
    } else {
      await mkdir(path, { recursive: true });
    }
    return path;
  }
  if (volume.configMap) {
    const data = await ctx.sources.configMapData(volume.configMap.name, volume.configMap.optional);
    await writeKeys(dir, data, volume.configMap.items, `configmap ${volume.configMap.name}`, 0o644);
    return dir;
  }
  if (volume.secret) {
    const data = await ctx.sources.secretData(volume.secret.secretName, volume.secret.optional);
    await writeKeys(dir, data, volume.secret.items, `secret ${volume.secret.secretName}`, 0o600);
    return dir;
  }
  if (volume.downwardAPI) {
    await writeDownward(dir, ctx.pod, volume.downwardAPI.items ?? []);
    return dir;
  }
  if (volume.projected) {
    await mkdir(dir, { recursive: true });
    for (const source of volume.projected.sources ?? []) await project(ctx, dir, source);
    return dir;
  }
  ctx.log(
    `pod ${ctx.pod.metadata.namespace}/${ctx.pod.metadata.name}: volume ${volume.name} has a type the stand-in kubelet does not provide; not mounted`,
  );
  return undefined;
}

async function project(ctx: VolumeContext, dir: string, source: ProjectionSource): Promise<void> {
  if (source.configMap) {
    const data = await ctx.sources.configMapData(source.configMap.name, source.configMap.optional);
    await writeKeys(dir, data, source.configMap.items, `configmap ${source.configMap.name}`, 0o644);
  } else if (source.secret) {
    const data = await ctx.sources.secretData(source.secret.name, source.secret.optional);
    await writeKeys(dir, data, source.secret.items, `secret ${source.secret.name}`, 0o600);
  } else if (source.downwardAPI) {
    await writeDownward(dir, ctx.pod, source.downwardAPI.items ?? []);
  } else if (source.serviceAccountToken) {
    const token = await requestToken(ctx, source.serviceAccountToken);
    await writeFile(join(dir, safeRelative(source.serviceAccountToken.path)), token, { mode: 0o600 });
  }
}

/** A token bound to the pod, as the kubelet requests for projected serviceAccountToken volumes. */
async function requestToken(
  ctx: VolumeContext,
  spec: { audience?: string; expirationSeconds?: number },
): Promise<string> {
  const { pod } = ctx;
  const sa = pod.spec.serviceAccountName ?? 'default';
  const namespace = pod.metadata.namespace ?? 'default';
  const body = {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      ...(spec.audience ? { audiences: [spec.audience] } : {}),
      expirationSeconds: Math.max(spec.expirationSeconds ?? 3600, 600),
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
    },
  };
  const res = await ctx.client.request<{ status?: { token?: string } }>(
    'POST',
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(sa)}/token`,
    { body },
  );
  const token = res.status?.token;
  if (!token)
    throw new ContainerConfigError(
      `TokenRequest for serviceaccount ${namespace}/${sa} returned no token`,
      true,
    );
  return token;
}

async function writeKeys(
  dir: string,
  data: Readonly<Record<string, Buffer>> | undefined,
  items: readonly KeyToPath[] | undefined,
  what: string,
  mode: number,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  // An optional source that does not exist contributes nothing.
  if (!data) return;
  const files = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const { key, path } of files) {
    const value = data[key];
    if (value === undefined) {
      throw new ContainerConfigError(`couldn't find key ${key} in ${what}`, false);
    }
    const file = join(dir, safeRelative(path));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, value, { mode });
  }
}

async function writeDownward(dir: string, pod: Pod, items: readonly DownwardApiFile[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const item of items) {
    if (!item.fieldRef) continue;
    const file = join(dir, safeRelative(item.path));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, fieldValue(pod, item.fieldRef.fieldPath));
  }
}

/** A relative path that cannot climb out of its base (`..` segments are rejected). */
function safeRelative(path: string): string {
  const rel = normalize(path).replace(/^\/+/, '');
  if (rel === '..' || rel.startsWith('../'))
    throw new ContainerConfigError(`path ${path} escapes its volume`, false);
  return rel;
}
