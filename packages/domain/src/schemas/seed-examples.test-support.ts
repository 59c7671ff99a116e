// Test support: the manifests under infra/examples, parsed. Only *.unit.test.ts files import this.
import { parseAllDocuments } from 'yaml';
import daemonJobsYaml from '../../../../infra/examples/daemon-jobs.yaml?raw';
import overlayYaml from '../../../../infra/examples/overlay.yaml?raw';
import reaperPodsYaml from '../../../../infra/examples/reaper-pods.yaml?raw';

export interface ExampleObject {
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly [key: string]: unknown;
}

function documents(text: string): ExampleObject[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
    return doc.toJS() as ExampleObject;
  });
}

/** Every object in infra/examples, in file order. */
const seedExamples: readonly ExampleObject[] = [
  ...documents(reaperPodsYaml),
  ...documents(overlayYaml),
  ...documents(daemonJobsYaml),
];

/** The example of `kind` named `name`; throws when the examples do not have it. */
export function seedExample(kind: string, name: string): ExampleObject {
  const found = seedExamples.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} in infra/examples`);
  return found;
}

/** Names of the examples of `kind`. */
export function seedExampleNames(kind: string): string[] {
  return seedExamples.filter((o) => o.kind === kind).map((o) => o.metadata.name);
}
