import type { Container, ApiPod as Pod } from '@reaper-flow/domain';
import { fieldValue, type PodSources } from './pod-sources';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment a container process gets: a container-like base (PATH, HOME, HOSTNAME and NODE_NAME
 * = the node), then envFrom, then env in order with $(VAR) references expanded as Kubernetes does.
 * Nothing of the kubelet's own environment leaks in.
 */
export async function containerEnv(
  pod: Pod,
  container: Container,
  node: string,
  sources: PodSources,
): Promise<Record<string, string>> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: '/root', HOSTNAME: node, NODE_NAME: node };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const data = from.configMapRef
      ? await sources.configMapData(from.configMapRef.name, from.configMapRef.optional)
      : from.secretRef
        ? await sources.secretData(from.secretRef.name, from.secretRef.optional)
        : undefined;
    for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v.toString('utf8');
  }
  for (const item of container.env ?? []) {
    const from = item.valueFrom;
    let value: string | undefined;
    if (from?.configMapKeyRef) value = await sources.configMapKey(from.configMapKeyRef);
    else if (from?.secretKeyRef) value = await sources.secretKey(from.secretKeyRef);
    else if (from?.fieldRef) value = fieldValue(pod, from.fieldRef.fieldPath);
    else value = expand(item.value ?? '', env);
    if (value !== undefined) env[item.name] = value;
  }
  return env;
}

/** The argv of a container: command then args, $(VAR) expanded from its environment. */
export function containerArgv(container: Container, env: Readonly<Record<string, string>>): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])].map((a) => expand(a, env));
}

/** Kubernetes' $(VAR) expansion: defined references are replaced, undefined ones kept, $$ means $. */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name] : match;
  });
}
