// Renders infra/deploy with the bundled kubectl (kustomize is built in) and the Helm chart with the
// built helm, compares what they grant, and asks the test cluster what a ServiceAccount may do
// (`kubectl auth can-i --as`), for test/deploy.int.test.ts and test/helm.int.test.ts.
import { spawn } from 'node:child_process';
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
  return parseRendering(stdout, dir);
}

/**
 * `helm template <release> <chart> <args>` (chart relative to the repository root) with the helm
 * binary at `helm`, parsed; pass `--include-crds` to get the chart's crds/ too.
 */
export async function renderHelmChart(
  helm: string,
  release: string,
  chart: string,
  args: readonly string[],
): Promise<Rendering> {
  const { stdout, stderr, code } = await run(helm, ['template', release, join(REPO_ROOT, chart), ...args]);
  if (code !== 0)
    throw new Error(`helm template ${chart} ${args.join(' ')} failed (exit ${code}): ${stderr}`);
  return parseRendering(stdout, `${chart} (helm)`);
}

/** Runs a program to its end; resolves with its output and exit code. */
export function run(
  command: string,
  args: readonly string[],
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code }));
  });
}

function parseRendering(yaml: string, source: string): Rendering {
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(yaml)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as Manifest | null;
    if (obj) manifests.push(obj);
  }
  return {
    yaml,
    manifests,
    get(kind, name) {
      const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
      if (!found) {
        const all = manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ');
        throw new Error(`${source} renders no ${kind}/${name}; it renders ${all}`);
      }
      return found;
    },
  };
}

interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly verbs: readonly string[];
}
interface RoleObject extends Manifest {
  readonly rules?: readonly PolicyRule[];
}
interface BindingObject extends Manifest {
  readonly roleRef: { readonly kind: string; readonly name: string };
  readonly subjects?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly namespace?: string;
  }[];
}

/**
 * What each ServiceAccount of a rendering may do: for every binding naming it, the bound role's
 * rules, one line per (scope, apiGroup, resource, resourceName, verb), sorted. The scope is
 * `cluster` for a ClusterRoleBinding and `namespace` for a RoleBinding (in the ServiceAccount's own
 * namespace, as both trees bind), so renderings into different namespaces and with different
 * object names compare equal when they grant the same.
 */
export function permissionsByServiceAccount(manifests: readonly Manifest[]): Map<string, string[]> {
  const roles = new Map<string, RoleObject>();
  for (const m of manifests) {
    if (m.kind === 'ClusterRole') roles.set(`ClusterRole/${m.metadata.name}`, m as RoleObject);
    if (m.kind === 'Role') roles.set(`Role/${m.metadata.namespace}/${m.metadata.name}`, m as RoleObject);
  }
  const grants = new Map<string, Set<string>>();
  for (const m of manifests) {
    if (m.kind !== 'ClusterRoleBinding' && m.kind !== 'RoleBinding') continue;
    const b = m as BindingObject;
    const roleKey =
      b.roleRef.kind === 'ClusterRole'
        ? `ClusterRole/${b.roleRef.name}`
        : `Role/${b.metadata.namespace}/${b.roleRef.name}`;
    const role = roles.get(roleKey);
    if (!role) throw new Error(`${m.kind}/${m.metadata.name} binds ${roleKey}, which is not rendered`);
    const scope = m.kind === 'ClusterRoleBinding' ? 'cluster' : 'namespace';
    for (const subject of b.subjects ?? []) {
      if (subject.kind !== 'ServiceAccount')
        throw new Error(`${m.kind}/${m.metadata.name} binds a ${subject.kind}`);
      const lines = grants.get(subject.name) ?? new Set<string>();
      for (const rule of role.rules ?? []) {
        for (const group of rule.apiGroups ?? ['']) {
          for (const resource of rule.resources ?? []) {
            for (const name of rule.resourceNames?.length ? rule.resourceNames : ['*']) {
              for (const verb of rule.verbs)
                lines.add(`${scope} ${group || 'core'} ${resource} ${name} ${verb}`);
            }
          }
        }
      }
      grants.set(subject.name, lines);
    }
  }
  return new Map([...grants].map(([sa, lines]) => [sa, [...lines].sort()]));
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
