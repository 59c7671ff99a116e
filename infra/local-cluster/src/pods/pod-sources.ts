import type { ConfigMap, KeySelector, ApiPod as Pod, Secret } from '@reaper-flow/domain';
import { type KubeClient, Resources } from '@reaper-flow/k8s';

/**
 * The container cannot be configured (a referenced ConfigMap, Secret or key is missing). `retryable`
 * when the object itself is missing: it may be created a moment after the pod, as a real kubelet
 * tolerates; a missing key of an existing object is final.
 */
export class ContainerConfigError extends Error {
  override readonly name = 'ContainerConfigError';
  readonly code = 'CreateContainerConfigError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Reads the ConfigMaps and Secrets a pod references (each once per start), decoding Secret data. */
export class PodSources {
  private readonly configMaps = new Map<string, Promise<ConfigMap | undefined>>();
  private readonly secrets = new Map<string, Promise<Secret | undefined>>();

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  configMap(name: string): Promise<ConfigMap | undefined> {
    let p = this.configMaps.get(name);
    if (!p) {
      p = this.client.get<ConfigMap>(Resources.configMaps, name, { namespace: this.namespace });
      this.configMaps.set(name, p);
    }
    return p;
  }

  secret(name: string): Promise<Secret | undefined> {
    let p = this.secrets.get(name);
    if (!p) {
      p = this.client.get<Secret>(Resources.secrets, name, { namespace: this.namespace });
      this.secrets.set(name, p);
    }
    return p;
  }

  /** All entries of a ConfigMap (binaryData decoded); undefined if it is missing and `optional`. */
  async configMapData(
    name: string,
    optional: boolean | undefined,
  ): Promise<Record<string, Buffer> | undefined> {
    const cm = await this.configMap(name);
    if (!cm) {
      if (optional) return undefined;
      throw new ContainerConfigError(`configmap "${name}" not found`, true);
    }
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v, 'utf8');
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
    return out;
  }

  /** All entries of a Secret, base64-decoded; undefined if it is missing and `optional`. */
  async secretData(name: string, optional: boolean | undefined): Promise<Record<string, Buffer> | undefined> {
    const secret = await this.secret(name);
    if (!secret) {
      if (optional) return undefined;
      throw new ContainerConfigError(`secret "${name}" not found`, true);
    }
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64');
    return out;
  }

  async configMapKey(ref: KeySelector): Promise<string | undefined> {
    return this.key('configmap', ref, await this.configMapData(ref.name ?? '', ref.optional));
  }

  async secretKey(ref: KeySelector): Promise<string | undefined> {
    return this.key('secret', ref, await this.secretData(ref.name ?? '', ref.optional));
  }

  private key(kind: string, ref: KeySelector, data: Record<string, Buffer> | undefined): string | undefined {
    if (!data) return undefined;
    const value = data[ref.key];
    if (value === undefined) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(
        `couldn't find key ${ref.key} in ${kind} ${this.namespace}/${ref.name}`,
        false,
      );
    }
    return value.toString('utf8');
  }
}

/** Value of a downward-API field path (the subset pods commonly use). */
export function fieldValue(pod: Pod, fieldPath: string): string {
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[labelOrAnnotation[2] ?? ''] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP':
    case 'status.podIP':
      return '127.0.0.1';
    default:
      throw new ContainerConfigError(`unsupported fieldRef ${fieldPath}`, false);
  }
}
