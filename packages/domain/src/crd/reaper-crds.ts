import type { z } from 'zod';
import {
  REAPER_DAEMON_JOB_KIND,
  REAPER_GROUP,
  REAPER_OVERLAY_KIND,
  REAPER_POD_KIND,
  REAPER_VERSION,
} from '../schemas/api';
import { reaperDaemonJobSpecSchema, reaperDaemonJobStatusSchema } from '../schemas/reaper-daemon-job';
import { reaperOverlaySchema, reaperOverlayStatusSchema } from '../schemas/reaper-overlay';
import { reaperPodSpecSchema, reaperPodStatusSchema } from '../schemas/reaper-pod';
import { toStructuralSchema } from './structural-schema';
import type { CustomResourceDefinition, JSONSchemaProps, PrinterColumn } from './types';

interface CrdInput {
  readonly kind: string;
  readonly plural: string;
  readonly shortName: string;
  readonly description: string;
  readonly spec: z.ZodType;
  readonly specRequired: boolean;
  readonly status: z.ZodType;
  readonly columns: readonly PrinterColumn[];
}

const PHASE_COLUMN: PrinterColumn = { name: 'Phase', type: 'string', jsonPath: '.status.phase' };
const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function rootSchema(input: CrdInput): JSONSchemaProps {
  return {
    type: 'object',
    description: input.description,
    properties: {
      apiVersion: {
        type: 'string',
        description: 'Versioned schema of this representation of an object (reaper.io/v1alpha1).',
      },
      kind: { type: 'string', description: `Kind of the object (${input.kind}).` },
      // The API server allows nothing but `type` here: metadata is validated by the server itself.
      metadata: { type: 'object' },
      spec: toStructuralSchema(input.spec, 'spec'),
      status: toStructuralSchema(input.status, 'status'),
    },
    ...(input.specRequired ? { required: ['spec'] } : {}),
  };
}

function buildCrd(input: CrdInput): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${input.plural}.${REAPER_GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'reaper-flow' },
    },
    spec: {
      group: REAPER_GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.kind.toLowerCase(),
        shortNames: [input.shortName],
        categories: ['reaper'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: REAPER_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: rootSchema(input) },
          subresources: { status: {} },
          additionalPrinterColumns: input.columns,
        },
      ],
    },
  };
}

/** CRD of ReaperPod, generated from its zod schemas. */
export function reaperPodCrd(): CustomResourceDefinition {
  return buildCrd({
    kind: REAPER_POD_KIND,
    plural: 'reaperpods',
    shortName: 'rpod',
    description:
      'ReaperPod runs a command on a host through the Reaper runtime; the controller backs it with a Pod of the same name.',
    spec: reaperPodSpecSchema,
    specRequired: true,
    status: reaperPodStatusSchema,
    columns: [
      PHASE_COLUMN,
      { name: 'Node', type: 'string', jsonPath: '.status.nodeName' },
      { name: 'Exit Code', type: 'integer', jsonPath: '.status.exitCode' },
      AGE_COLUMN,
    ],
  });
}

/** CRD of ReaperOverlay, generated from its zod schemas. */
export function reaperOverlayCrd(): CustomResourceDefinition {
  return buildCrd({
    kind: REAPER_OVERLAY_KIND,
    plural: 'reaperoverlays',
    shortName: 'rovl',
    description:
      'ReaperOverlay manages the lifecycle of a named overlay filesystem on every node, like a PersistentVolumeClaim: ReaperPods naming it wait until it is Ready, and deleting it cleans up on-disk data on all nodes.',
    // With `default: {}` an overlay created without spec still gets resetPolicy and resetGeneration.
    spec: reaperOverlaySchema.shape.spec,
    specRequired: false,
    status: reaperOverlayStatusSchema,
    columns: [
      PHASE_COLUMN,
      { name: 'Reset Gen', type: 'integer', jsonPath: '.spec.resetGeneration' },
      { name: 'Observed', type: 'integer', jsonPath: '.status.observedResetGeneration' },
      AGE_COLUMN,
    ],
  });
}

/** CRD of ReaperDaemonJob, generated from its zod schemas. */
export function reaperDaemonJobCrd(): CustomResourceDefinition {
  return buildCrd({
    kind: REAPER_DAEMON_JOB_KIND,
    plural: 'reaperdaemonjobs',
    shortName: 'rdjob',
    description:
      'ReaperDaemonJob runs a command to completion on every matching node (a DaemonSet for jobs), with dependency ordering, retries and shared overlays.',
    spec: reaperDaemonJobSpecSchema,
    specRequired: true,
    status: reaperDaemonJobStatusSchema,
    columns: [
      PHASE_COLUMN,
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyNodes' },
      { name: 'Total', type: 'integer', jsonPath: '.status.totalNodes' },
      { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend' },
      AGE_COLUMN,
    ],
  });
}

/** The three reaper.io CRDs, in the order they are applied. */
export function reaperCrds(): readonly CustomResourceDefinition[] {
  return [reaperPodCrd(), reaperOverlayCrd(), reaperDaemonJobCrd()];
}
