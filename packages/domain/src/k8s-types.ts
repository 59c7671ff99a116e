/**
 * Minimal, hand-written shapes of the Kubernetes objects reaper-flow builds or reads: the one source
 * for the engine and the local cluster (its stand-in kubelet and simulated Nodes read and write the
 * same objects). Only the fields in use are listed. Objects arrive as JSON (KubeClient's REST calls,
 * the world store), so timestamps are RFC 3339 strings; read-side timestamps also accept a Date,
 * which the readers format the same way (nothing in reaper-flow deserializes into the typed client's
 * models).
 */

/** An RFC 3339 timestamp string (as read from JSON), or a Date. */
export type K8sTime = string | Date;

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly creationTimestamp?: K8sTime;
  readonly deletionTimestamp?: K8sTime;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
  readonly ownerReferences?: readonly OwnerReference[];
}

export interface KeySelector {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}

export interface EnvVarSource {
  readonly secretKeyRef?: KeySelector;
  readonly configMapKeyRef?: KeySelector;
  readonly fieldRef?: { readonly fieldPath: string };
}

export interface EnvFromSource {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name: string; readonly optional?: boolean };
  readonly secretRef?: { readonly name: string; readonly optional?: boolean };
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: EnvVarSource;
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly subPath?: string;
}

export interface SecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly EnvFromSource[];
  readonly workingDir?: string;
  readonly volumeMounts?: readonly VolumeMount[];
  readonly securityContext?: SecurityContext;
}

export interface KeyToPath {
  readonly key: string;
  readonly path: string;
}

export interface DownwardApiFile {
  readonly path: string;
  readonly fieldRef?: { readonly fieldPath: string };
}

interface KeysOf {
  readonly items?: readonly KeyToPath[];
  readonly optional?: boolean;
}

export interface ProjectionSource {
  readonly configMap?: { readonly name: string } & KeysOf;
  readonly secret?: { readonly name: string } & KeysOf;
  readonly downwardAPI?: { readonly items?: readonly DownwardApiFile[] };
  readonly serviceAccountToken?: {
    readonly path: string;
    readonly audience?: string;
    readonly expirationSeconds?: number;
  };
}

export interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name: string } & KeysOf;
  readonly secret?: { readonly secretName: string } & KeysOf;
  readonly hostPath?: { readonly path: string; readonly type?: string };
  readonly emptyDir?: Readonly<Record<string, never>>;
  readonly projected?: { readonly sources?: readonly ProjectionSource[] };
  readonly downwardAPI?: { readonly items?: readonly DownwardApiFile[] };
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  readonly tolerationSeconds?: number;
}

export interface PodSpec {
  readonly runtimeClassName?: string;
  readonly serviceAccountName?: string;
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly nodeName?: string;
  readonly tolerations?: readonly Toleration[];
  readonly restartPolicy?: 'Always' | 'OnFailure' | 'Never';
}

export interface ContainerStateWaiting {
  readonly reason?: string;
  readonly message?: string;
}

export interface ContainerStateRunning {
  readonly startedAt?: K8sTime;
}

export interface ContainerStateTerminated {
  readonly exitCode: number;
  readonly reason?: string;
  readonly message?: string;
  readonly startedAt?: K8sTime;
  readonly finishedAt?: K8sTime;
}

export interface ContainerState {
  readonly waiting?: ContainerStateWaiting;
  readonly running?: ContainerStateRunning;
  readonly terminated?: ContainerStateTerminated;
}

export interface ContainerStatus {
  readonly name: string;
  readonly state?: ContainerState;
  readonly ready?: boolean;
  readonly started?: boolean;
  readonly restartCount?: number;
  readonly image?: string;
  readonly imageID?: string;
  readonly containerID?: string;
}

/** Kubernetes Pod phases; the API may still send other strings, so `PodStatus.phase` is a string. */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodStatus {
  readonly phase?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly startTime?: K8sTime;
  readonly hostIP?: string;
  readonly podIP?: string;
  /** PodScheduled (written by the kube-scheduler), Ready, ... */
  readonly conditions?: readonly PodCondition[];
  readonly containerStatuses?: readonly ContainerStatus[];
}

export interface PodCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: K8sTime;
}

/** A Pod as the domain builds it: metadata and spec always present. */
export interface Pod {
  readonly apiVersion: 'v1';
  readonly kind: 'Pod';
  readonly metadata: ObjectMeta;
  readonly spec: PodSpec;
  readonly status?: PodStatus;
}

/** A Pod as read back from the API, where every part may be missing. */
export interface ObservedPod {
  readonly metadata?: ObjectMeta;
  readonly spec?: Partial<PodSpec>;
  readonly status?: PodStatus;
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

export interface NodeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: K8sTime;
  readonly lastHeartbeatTime?: K8sTime;
}

export interface NodeSystemInfo {
  readonly bootID: string;
  readonly machineID: string;
  readonly systemUUID: string;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly containerRuntimeVersion: string;
  readonly kubeletVersion: string;
  readonly kubeProxyVersion?: string;
  readonly operatingSystem: string;
  readonly architecture: string;
}

export interface NodeStatus {
  readonly conditions?: readonly NodeCondition[];
  readonly nodeInfo?: NodeSystemInfo;
  readonly capacity?: Readonly<Record<string, string>>;
  readonly allocatable?: Readonly<Record<string, string>>;
  readonly addresses?: readonly { readonly type: string; readonly address: string }[];
  readonly daemonEndpoints?: { readonly kubeletEndpoint?: { readonly Port?: number } };
}

export interface Node {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
  readonly spec?: { readonly unschedulable?: boolean; readonly taints?: readonly Taint[] };
  readonly status?: NodeStatus;
}

/** metav1.Condition as the API serializes it. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface ConfigMap {
  readonly metadata?: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
  readonly binaryData?: Readonly<Record<string, string>>;
}

export interface Secret {
  readonly metadata?: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
}

/**
 * An object as the API server returns it: metadata with a name is always there; apiVersion and kind
 * may not be (the items of a list leave them out).
 */
export type FromApi<T extends { readonly metadata?: ObjectMeta }> = Omit<
  T,
  'apiVersion' | 'kind' | 'metadata'
> & {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta & { readonly name: string };
};

/** A Node read from the API (the local cluster's simulated Nodes, the stand-in kubelet). */
export type ApiNode = FromApi<Node>;

/** A Pod read from the API (the stand-in kubelet runs them). */
export type ApiPod = FromApi<Pod>;
