/** Identifies a Kubernetes resource type for REST paths. `group` is '' for the core API. */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

const core = (plural: string, kind: string, namespaced = true): ResourceRef => ({
  group: '',
  version: 'v1',
  plural,
  kind,
  namespaced,
});

export const REAPER_GROUP = 'reaper.io';
export const REAPER_VERSION = 'v1alpha1';
export const REAPER_API_VERSION = `${REAPER_GROUP}/${REAPER_VERSION}`;

const reaper = (plural: string, kind: string): ResourceRef => ({
  group: REAPER_GROUP,
  version: REAPER_VERSION,
  plural,
  kind,
  namespaced: true,
});

/** The resource types reaper-flow talks to. */
export const Resources = {
  pods: core('pods', 'Pod'),
  nodes: core('nodes', 'Node', false),
  namespaces: core('namespaces', 'Namespace', false),
  events: core('events', 'Event'),
  configMaps: core('configmaps', 'ConfigMap'),
  secrets: core('secrets', 'Secret'),
  services: core('services', 'Service'),
  endpoints: core('endpoints', 'Endpoints'),
  serviceAccounts: core('serviceaccounts', 'ServiceAccount'),
  leases: {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    kind: 'Lease',
    namespaced: true,
  } as ResourceRef,
  customResourceDefinitions: {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
  } as ResourceRef,
  runtimeClasses: {
    group: 'node.k8s.io',
    version: 'v1',
    plural: 'runtimeclasses',
    kind: 'RuntimeClass',
    namespaced: false,
  } as ResourceRef,
  reaperPods: reaper('reaperpods', 'ReaperPod'),
  reaperOverlays: reaper('reaperoverlays', 'ReaperOverlay'),
  reaperDaemonJobs: reaper('reaperdaemonjobs', 'ReaperDaemonJob'),
} as const;

/** The REST path of a collection or (with `name`) of one object, optionally of a subresource. */
export function resourcePath(
  ref: ResourceRef,
  opts: { namespace?: string | undefined; name?: string | undefined; subresource?: string | undefined } = {},
): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  const name = opts.name ? `/${encodeURIComponent(opts.name)}` : '';
  const sub = opts.name && opts.subresource ? `/${opts.subresource}` : '';
  return `${base}${ns}/${ref.plural}${name}${sub}`;
}

/** apiVersion string of a resource type ("v1", "reaper.io/v1alpha1"). */
export function apiVersionOf(ref: ResourceRef): string {
  return ref.group === '' ? ref.version : `${ref.group}/${ref.version}`;
}
