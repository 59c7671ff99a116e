// Renders infra/deploy with the bundled kubectl (kustomize is built in) and asks the test cluster
// what a ServiceAccount may do (`kubectl auth can-i --as`), for test/deploy.int.test.ts.
import { join } from 'node:path';
import { REPO_ROOT } from '@reaper-flow/local-cluster';
import { parseAllDocuments } from 'yaml';
import { kubectl } from '../harness/index';

/** One rendered object; only the fields the test reads are typed. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

export interface Rendering {
  /** kubectl's output, as an operator would pipe it to `kubectl apply -f -`. */
  readonly yaml: string;
  readonly manifests: readonly Manifest[];
  /** The object of that kind and name; throws naming what was rendered when it is missing. */
  get(kind: string, name: string): Manifest;
}

/** `kubectl kustomize <dir>` (dir relative to the repository root), parsed. */
export async function renderKustomization(dir: string): Promise<Rendering> {
  const { stdout, stderr, code } = await kubectl(['kustomize', join(REPO_ROOT, dir)]);
  if (code !== 0) throw new Error(`kubectl kustomize ${dir} failed (exit ${code}): ${stderr}`);
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as Manifest | null;
    if (obj) manifests.push(obj);
  }
  return {
    yaml: stdout,
    manifests,
    get(kind, name) {
      const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
      if (!found) {
        const all = manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ');
        throw new Error(`${dir} renders no ${kind}/${name}; it renders ${all}`);
      }
      return found;
    },
  };
}

/** Serializes manifests back into one multi-document YAML stream (kubectl reads JSON documents too). */
export function toYamlStream(manifests: readonly Manifest[]): string {
  return manifests.map((m) => JSON.stringify(m)).join('\n---\n');
}

/** One question to the authorizer: may `serviceAccount` do `verb` on `resource`? */
export interface AccessCheck {
  /** Name of a ServiceAccount in `saNamespace`. */
  readonly serviceAccount: string;
  readonly verb: string;
  /** `pods`, `reaperpods.reaper.io`, `leases.coordination.k8s.io/<name>`... */
  readonly resource: string;
  readonly subresource?: string;
  /** A namespace, `*` for all namespaces, or undefined for a cluster-scoped resource. */
  readonly namespace?: string;
  readonly expected: 'yes' | 'no';
}

export interface AccessAnswer extends AccessCheck {
  readonly actual: 'yes' | 'no';
}

/** Runs `kubectl auth can-i ... --as=system:serviceaccount:<ns>:<sa>` for each check, a few at a time. */
export async function canI(
  checks: readonly AccessCheck[],
  saNamespace: string,
  parallel = 4,
): Promise<AccessAnswer[]> {
  const answers: AccessAnswer[] = new Array(checks.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < checks.length; i = next++) {
      const c = checks[i] as AccessCheck;
      const args = [
        'auth',
        'can-i',
        c.verb,
        c.resource,
        `--as=system:serviceaccount:${saNamespace}:${c.serviceAccount}`,
      ];
      if (c.subresource) args.push(`--subresource=${c.subresource}`);
      if (c.namespace === '*') args.push('--all-namespaces');
      else if (c.namespace) args.push('-n', c.namespace);
      const { stdout, stderr, code } = await kubectl(args);
      const said = stdout.trim();
      // can-i exits 0 with "yes" and 1 with "no"; anything else is a failure to ask.
      if (!((said === 'yes' && code === 0) || (said === 'no' && code === 1))) {
        throw new Error(`kubectl ${args.join(' ')} answered "${said}" (exit ${code}): ${stderr}`);
      }
      answers[i] = { ...c, actual: said };
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, checks.length) }, worker));
  return answers;
}

/** The answers as a fixed-width table, for the test output. */
export function formatAccessMatrix(answers: readonly AccessAnswer[]): string {
  const rows = answers.map((a) => [
    a.serviceAccount,
    `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}`,
    a.namespace === '*' ? '(all)' : (a.namespace ?? '(cluster)'),
    a.expected === 'yes' ? 'allow' : 'deny',
    a.actual === 'yes' ? 'allowed' : 'DENIED',
    a.actual === a.expected ? 'ok' : 'MISMATCH',
  ]);
  const header = ['serviceaccount', 'request', 'namespace', 'want', 'got', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
