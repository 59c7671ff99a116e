import { z } from 'zod';
import { ReaperError } from '../errors';
import type { JSONSchemaProps } from './types';

/**
 * Keys the API server accepts in a structural schema and reaper-flow uses, in the order they are
 * emitted (so generated YAML reads type first and diffs stay small). Anything else is a bug.
 */
const KEY_ORDER = [
  'type',
  'description',
  'enum',
  'default',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'maxProperties',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
  'required',
  'properties',
  'items',
  'additionalProperties',
] as const;
const ALLOWED_KEYS = new Set<string>(KEY_ORDER);

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/** Thrown when a zod schema cannot be expressed as a structural CRD schema. */
export class StructuralSchemaError extends ReaperError {
  readonly code = 'crd.StructuralSchema';
  readonly terminal = true;
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An int-or-string field (zod: a union of an integer and a string, marked
 * `x-kubernetes-int-or-string`) has no type in a structural schema: the marker stands for it, and
 * the union's branch constraints become the CEL rule the field carries.
 */
function intOrString(node: Json, path: string): JSONSchemaProps {
  const { anyOf: _branches, ...rest } = node;
  if (!Array.isArray(node['x-kubernetes-validations'])) {
    throw new StructuralSchemaError(path, 'an int-or-string field needs a CEL rule for its branches');
  }
  if (typeof rest.description !== 'string' || rest.description === '') {
    throw new StructuralSchemaError(path, 'every schema node needs a description');
  }
  const ordered: Json = {};
  for (const key of KEY_ORDER) if (rest[key] !== undefined) ordered[key] = rest[key];
  return ordered as JSONSchemaProps;
}

function normalize(node: unknown, path: string): JSONSchemaProps {
  if (!isRecord(node)) throw new StructuralSchemaError(path, 'schema node is not an object');
  if (node['x-kubernetes-int-or-string'] === true) return intOrString(node, path);
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (!ALLOWED_KEYS.has(key)) {
      throw new StructuralSchemaError(
        path,
        `"${key}" cannot be expressed in a structural schema (unions, refs?)`,
      );
    }
    out[key] = value;
  }
  if (typeof out.type !== 'string' || !TYPES.has(out.type)) {
    throw new StructuralSchemaError(path, 'every schema node needs a type');
  }
  if (typeof out.description !== 'string' || out.description === '') {
    throw new StructuralSchemaError(path, 'every schema node needs a description');
  }
  // zod bounds z.int() by the JS safe-integer range; Kubernetes integers are int64 already.
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  // The API server checks `format: date-time` itself; zod's equivalent regex only adds noise.
  if (out.format === 'date-time') delete out.pattern;
  // Pruning already drops unknown fields; `additionalProperties: false` is not allowed with properties.
  if (typeof out.additionalProperties === 'boolean') delete out.additionalProperties;

  if (isRecord(out.properties)) {
    const properties: Record<string, JSONSchemaProps> = {};
    for (const [name, child] of Object.entries(out.properties)) {
      properties[name] = normalize(child, `${path}.${name}`);
    }
    out.properties = properties;
  }
  if (out.items !== undefined) out.items = normalize(out.items, `${path}[]`);
  if (out.additionalProperties !== undefined) {
    out.additionalProperties = normalize(out.additionalProperties, `${path}{}`);
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  const ordered: Json = {};
  for (const key of KEY_ORDER) if (out[key] !== undefined) ordered[key] = out[key];
  return ordered as JSONSchemaProps;
}

/**
 * Converts a zod schema into a structural OpenAPI v3 schema for a CRD: every node typed and
 * described, no $ref or unions, defaults and CEL rules carried over from zod metadata. Uses the
 * input view of the schema, so fields with defaults are optional and carry `default`.
 * Throws {@link StructuralSchemaError} naming the offending path when that is impossible.
 */
export function toStructuralSchema(schema: z.ZodType, path = '(root)'): JSONSchemaProps {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    reused: 'inline',
    unrepresentable: 'throw',
  });
  return normalize(json, path);
}
