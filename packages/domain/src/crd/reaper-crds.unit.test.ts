import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { reaperCrds, reaperDaemonJobCrd, reaperOverlayCrd, reaperPodCrd } from './reaper-crds';
import { StructuralSchemaError, toStructuralSchema } from './structural-schema';
import type { CustomResourceDefinition, JSONSchemaProps } from './types';

interface Visit {
  readonly path: string;
  readonly node: JSONSchemaProps;
  readonly arrayAncestors: readonly JSONSchemaProps[];
}

function walk(node: JSONSchemaProps, path = '', arrayAncestors: readonly JSONSchemaProps[] = []): Visit[] {
  const visits: Visit[] = [{ path, node, arrayAncestors }];
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    visits.push(...walk(child, path === '' ? name : `${path}.${name}`, arrayAncestors));
  }
  if (node.items) visits.push(...walk(node.items, `${path}[]`, [...arrayAncestors, node]));
  if (node.additionalProperties) visits.push(...walk(node.additionalProperties, `${path}{}`, arrayAncestors));
  return visits;
}

function schemaOf(crd: CustomResourceDefinition): JSONSchemaProps {
  const version = crd.spec.versions[0];
  if (!version) throw new Error('CRD has no version');
  return version.schema.openAPIV3Schema;
}

function at(crd: CustomResourceDefinition, path: string): JSONSchemaProps {
  const visit = walk(schemaOf(crd)).find((v) => v.path === path);
  if (!visit) throw new Error(`no schema node at ${path}`);
  return visit.node;
}

/** Checks a default value against the constraints of its own node (what the API server does). */
function defaultViolations(node: JSONSchemaProps): string[] {
  const value = node.default;
  const problems: string[] = [];
  const actualType = Array.isArray(value)
    ? 'array'
    : Number.isInteger(value)
      ? 'integer'
      : value === null
        ? 'null'
        : typeof value;
  if (actualType !== node.type && !(node.type === 'number' && actualType === 'integer')) {
    problems.push(`type ${actualType} is not ${node.type}`);
  }
  if (node.enum && !node.enum.includes(value)) problems.push('not in enum');
  if (typeof value === 'number') {
    if (node.minimum !== undefined && value < node.minimum) problems.push('below minimum');
    if (node.maximum !== undefined && value > node.maximum) problems.push('above maximum');
  }
  for (const key of node.required ?? []) {
    const property = node.properties?.[key];
    if (typeof value === 'object' && value !== null && !(key in value) && property?.default === undefined) {
      problems.push(`misses required ${key}`);
    }
  }
  return problems;
}

describe.each(reaperCrds().map((crd) => [crd.spec.names.kind, crd] as const))('the %s CRD', (_kind, crd) => {
  const visits = walk(schemaOf(crd));

  it('gives every schema node a type and a description (metadata must stay bare)', () => {
    const bad = visits
      .filter((v) => v.path !== 'metadata')
      .filter(
        (v) =>
          (typeof v.node.type !== 'string' && v.node['x-kubernetes-int-or-string'] !== true) ||
          !v.node.description,
      )
      .map((v) => v.path || '(root)');
    expect(bad).toEqual([]);
    expect(at(crd, 'metadata')).toEqual({ type: 'object' });
  });

  it('is structural: no refs, unions or negations anywhere', () => {
    const forbidden = ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'nullable', 'additionalProperties'];
    const bad = visits.flatMap((v) =>
      forbidden
        .filter((k) => k in v.node && !(k === 'additionalProperties' && typeof v.node[k] === 'object'))
        .map((k) => `${v.path}: ${k}`),
    );
    expect(bad).toEqual([]);
  });

  it('has defaults that validate against their own schema node', () => {
    const bad = visits
      .filter((v) => v.node.default !== undefined)
      .flatMap((v) => defaultViolations(v.node).map((p) => `${v.path}: ${p}`));
    expect(bad).toEqual([]);
  });

  it('bounds every list that contains a CEL rule, so the API server can estimate its cost', () => {
    const unbounded = visits
      .filter((v) => v.node['x-kubernetes-validations'] !== undefined)
      .flatMap((v) => v.arrayAncestors.filter((a) => a.maxItems === undefined).map(() => v.path));
    expect(unbounded).toEqual([]);
  });

  it('makes the key of every map-type list required', () => {
    const bad = visits
      .filter((v) => v.node['x-kubernetes-list-type'] === 'map')
      .flatMap((v) =>
        (v.node['x-kubernetes-list-map-keys'] ?? [])
          .filter((k) => !v.node.items?.required?.includes(k))
          .map((k) => `${v.path}: ${k}`),
      );
    expect(bad).toEqual([]);
  });

  it('types status.conditions as metav1.Condition keyed by type', () => {
    const conditions = at(crd, 'status.conditions');
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(conditions.items?.required).toEqual(['type', 'status', 'reason', 'message', 'lastTransitionTime']);
    expect(at(crd, 'status.conditions[].status').enum).toEqual(['True', 'False', 'Unknown']);
  });

  it('is namespaced, in the reaper category, with a status subresource and an Age column', () => {
    expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.reaper.io`);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.categories).toEqual(['reaper']);
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage, v.subresources])).toEqual([
      ['v1alpha1', true, true, { status: {} }],
    ]);
    expect(crd.spec.versions[0]?.additionalPrinterColumns.at(-1)).toEqual({
      name: 'Age',
      type: 'date',
      jsonPath: '.metadata.creationTimestamp',
    });
  });
});

describe('ReaperPod CRD', () => {
  const crd = reaperPodCrd();

  it('uses the contract names and printer columns', () => {
    expect(crd.spec.names).toEqual({
      kind: 'ReaperPod',
      listKind: 'ReaperPodList',
      plural: 'reaperpods',
      singular: 'reaperpod',
      shortNames: ['rpod'],
      categories: ['reaper'],
    });
    expect(crd.spec.versions[0]?.additionalPrinterColumns).toEqual([
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Node', type: 'string', jsonPath: '.status.nodeName' },
      { name: 'Exit Code', type: 'integer', jsonPath: '.status.exitCode' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ]);
  });

  it('requires a non-empty command and a spec', () => {
    expect(schemaOf(crd).required).toEqual(['spec']);
    expect(at(crd, 'spec').required).toEqual(['command']);
    expect(at(crd, 'spec.command')).toMatchObject({ type: 'array', minItems: 1, items: { type: 'string' } });
  });

  it('expresses "exactly one volume source" and "value xor valueFrom" as CEL rules', () => {
    expect(at(crd, 'spec.volumes').maxItems).toBe(64);
    expect(at(crd, 'spec.volumes[]')['x-kubernetes-validations']).toEqual([
      {
        rule: '[has(self.configMap), has(self.secret), has(self.hostPath), has(self.emptyDir) && self.emptyDir].filter(x, x).size() == 1',
        message: 'volume must set exactly one of configMap, secret, hostPath, emptyDir',
      },
    ]);
    expect(at(crd, 'spec.env').maxItems).toBe(256);
    expect(at(crd, 'spec.env[]')['x-kubernetes-validations']).toEqual([
      {
        rule: 'has(self.value) != has(self.valueFrom)',
        message: 'env var must set exactly one of value, valueFrom',
      },
    ]);
    expect(at(crd, 'spec.env[].valueFrom')['x-kubernetes-validations']).toEqual([
      {
        rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)',
        message: 'valueFrom must set exactly one of secretKeyRef, configMapKeyRef',
      },
    ]);
  });

  it('refuses / and system directories as a mountPath, and selector keys that are not label keys', () => {
    const rules = (at(crd, 'spec.volumes[].mountPath')['x-kubernetes-validations'] ?? []).map(
      (r) => r.message,
    );
    expect(rules).toEqual([
      'must be an absolute path',
      "must not contain '.' or '..' segments",
      expect.stringMatching(/^must not be \/ or a system directory/),
    ]);
    expect(at(crd, 'spec.nodeSelector')).toMatchObject({ maxProperties: 64 });
    expect(at(crd, 'spec.nodeSelector')['x-kubernetes-validations']?.[0]?.message).toMatch(
      /^keys must be label keys/,
    );
  });

  it('constrains overlayName to a DNS label and enumerates dnsMode and the phases', () => {
    expect(at(crd, 'spec.overlayName')).toMatchObject({
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      maxLength: 63,
    });
    expect(at(crd, 'spec.dnsMode').enum).toEqual(['host', 'kubernetes']);
    expect(at(crd, 'status.phase').enum).toEqual(['Pending', 'Running', 'Succeeded', 'Failed']);
    expect(at(crd, 'status.startTime').format).toBe('date-time');
    expect(at(crd, 'spec.tolerations[].effect').enum).toEqual([
      'NoSchedule',
      'PreferNoSchedule',
      'NoExecute',
    ]);
  });
});

describe('ReaperOverlay CRD', () => {
  const crd = reaperOverlayCrd();

  it('uses the contract names and printer columns', () => {
    expect(crd.spec.names.shortNames).toEqual(['rovl']);
    expect(crd.spec.names.plural).toBe('reaperoverlays');
    expect(crd.spec.versions[0]?.additionalPrinterColumns).toEqual([
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Reset Gen', type: 'integer', jsonPath: '.spec.resetGeneration' },
      { name: 'Observed', type: 'integer', jsonPath: '.status.observedResetGeneration' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ]);
  });

  it('defaults the spec so an overlay created without one still gets its policy', () => {
    expect(schemaOf(crd).required).toBeUndefined();
    expect(at(crd, 'spec').default).toEqual({});
    expect(at(crd, 'spec.resetPolicy')).toMatchObject({
      enum: ['Manual', 'OnFailure', 'OnDelete'],
      default: 'Manual',
    });
    expect(at(crd, 'spec.resetGeneration')).toMatchObject({ type: 'integer', minimum: 0, default: 0 });
  });

  it('refuses a lower resetGeneration with a transition rule on the field', () => {
    // "Never below observed" as "never decreasing": observedResetGeneration only ever records
    // values the spec held. A root rule comparing spec with status also works on v1.36 (an update
    // of the main resource sees the stored status), but it runs on every status write too and
    // names no field; this one sits on the field and compares with the old spec alone.
    expect(at(crd, 'spec.resetGeneration')['x-kubernetes-validations']).toEqual([
      {
        rule: 'self >= oldSelf',
        message: 'resetGeneration may not decrease: increment it to reset the overlay again',
      },
    ]);
  });

  it('keys status.nodes by nodeName and documents every phase, Deleting included', () => {
    expect(at(crd, 'status.nodes')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['nodeName'],
    });
    expect(at(crd, 'status.nodes[]').required).toContain('nodeName');
    const phase = at(crd, 'status.phase');
    expect(phase.enum).toEqual(['Pending', 'Ready', 'Resetting', 'Failed', 'Deleting']);
    for (const p of phase.enum ?? []) expect(phase.description).toContain(`${String(p)}:`);
  });
});

describe('ReaperDaemonJob CRD', () => {
  const crd = reaperDaemonJobCrd();

  it('uses the contract names and printer columns', () => {
    expect(crd.spec.names.shortNames).toEqual(['rdjob']);
    expect(crd.spec.names.plural).toBe('reaperdaemonjobs');
    expect(crd.spec.versions[0]?.additionalPrinterColumns).toEqual([
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyNodes' },
      { name: 'Total', type: 'integer', jsonPath: '.status.totalNodes' },
      { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ]);
  });

  it('carries the spec defaults, enums and bounds of the contract', () => {
    expect(at(crd, 'spec.command').minItems).toBe(1);
    expect(at(crd, 'spec.triggerOn')).toMatchObject({ enum: ['NodeReady', 'Manual'], default: 'NodeReady' });
    expect(at(crd, 'spec.concurrencyPolicy')).toMatchObject({ enum: ['Skip', 'Replace'], default: 'Skip' });
    expect(at(crd, 'spec.retryLimit')).toMatchObject({
      type: 'integer',
      minimum: 0,
      maximum: 100,
      default: 0,
    });
    expect(at(crd, 'spec.after')['x-kubernetes-list-type']).toBe('set');
    expect(at(crd, 'spec.after[]')).toMatchObject({
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      maxLength: 63,
    });
    expect(at(crd, 'spec.overlayName')).toMatchObject({
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      maxLength: 63,
    });
  });

  it('keys status.nodeStatuses by nodeName', () => {
    expect(at(crd, 'status.nodeStatuses')).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['nodeName'],
    });
    expect(at(crd, 'status.nodeStatuses[]').required).toEqual(['nodeName', 'phase']);
    expect(at(crd, 'status.phase').enum).toEqual(['Pending', 'Running', 'Completed', 'PartiallyFailed']);
    expect(at(crd, 'status.lastTriggerValue').type).toBe('string');
  });
});

describe('toStructuralSchema', () => {
  it('refuses a union, which a structural schema cannot express', () => {
    const union = z.union([z.string(), z.int()]).describe('either');
    expect(() => toStructuralSchema(union)).toThrow(StructuralSchemaError);
  });

  it('refuses a field without a description and names its path', () => {
    const schema = z.object({ name: z.string() }).describe('thing');
    expect(() => toStructuralSchema(schema, 'spec')).toThrow(
      'spec.name: every schema node needs a description',
    );
  });
});
