import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve as resolvePath, sep } from 'node:path';
import { ReaperError } from '@reaper-flow/domain';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Our own kubeconfig reader. @kubernetes/client-node did this before, and importing it cost every
 * app 30-70 MB of RSS at start, for a few hundred lines of YAML handling; it is now imported only
 * for a user with an `auth-provider` (see client.ts). The rules are client-go's
 * (https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/).
 */

/** A kubeconfig that cannot be read or used: names the file and the field to fix. */
export class KubeconfigError extends ReaperError {
  readonly code = 'kubeconfig.Invalid';
  readonly terminal = true;
}

/** A file path or base64 data, as a kubeconfig gives a CA, a client certificate or a key. */
export interface FileOrData {
  /** Absolute: a relative path in a kubeconfig is resolved against that file's directory. */
  readonly file?: string | undefined;
  /** Base64, as in the `*-data` fields. */
  readonly data?: string | undefined;
}

export interface KubeconfigExec {
  readonly command: string;
  readonly args?: readonly string[] | undefined;
  readonly env?: readonly { name: string; value: string }[] | undefined;
  readonly apiVersion?: string | undefined;
}

export interface KubeconfigUser {
  readonly name: string;
  readonly clientCertificate?: FileOrData | undefined;
  readonly clientKey?: FileOrData | undefined;
  readonly token?: string | undefined;
  /** Absolute path of a token file, read again while the process runs. */
  readonly tokenFile?: string | undefined;
  readonly exec?: KubeconfigExec | undefined;
  /** `as`: the user to impersonate. */
  readonly impersonate?: string | undefined;
  /** oidc, gcp, azure: deprecated providers left to @kubernetes/client-node. */
  readonly authProvider?:
    | { readonly name: string; readonly config: Readonly<Record<string, string>> }
    | undefined;
}

/** What a client needs from a kubeconfig: the current (or chosen) context, resolved. */
export interface ResolvedKubeconfig {
  /** Where it came from: the file(s) read, or `in-cluster`. */
  readonly source: string;
  readonly context: string;
  readonly server: string;
  readonly certificateAuthority?: FileOrData | undefined;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string | undefined;
  /** The context's namespace, if it names one. */
  readonly namespace?: string | undefined;
  readonly user: KubeconfigUser;
}

/** Where the kubeconfig is looked for; the defaults are the process's, a test passes its own. */
export interface KubeconfigSources {
  readonly env?: NodeJS.ProcessEnv;
  readonly homeDir?: string | undefined;
  /** The mounted ServiceAccount (token, ca.crt, namespace) of an in-cluster process. */
  readonly serviceAccountDir?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const str = z.string();
const optStr = z.string().nullish();
const name = z.string().min(1, 'a name is required');
const Cluster = z.object({
  server: z.string().min(1, 'the API server URL is required'),
  'certificate-authority': optStr,
  'certificate-authority-data': optStr,
  'insecure-skip-tls-verify': z.boolean().nullish(),
  'tls-server-name': optStr,
});
const Context = z.object({
  cluster: z.string().min(1, 'the cluster of a context is required'),
  user: optStr,
  namespace: optStr,
});
const User = z.object({
  'client-certificate': optStr,
  'client-certificate-data': optStr,
  'client-key': optStr,
  'client-key-data': optStr,
  token: optStr,
  tokenFile: optStr,
  'token-file': optStr,
  as: optStr,
  exec: z
    .object({
      command: z.string().min(1, 'the exec command is required'),
      args: z.array(str).nullish(),
      env: z.array(z.object({ name: str, value: str })).nullish(),
      apiVersion: optStr,
    })
    .nullish(),
  'auth-provider': z.object({ name: z.string().min(1), config: z.record(str, str).nullish() }).nullish(),
});
const KubeconfigFile = z.object({
  'current-context': optStr,
  clusters: z.array(z.object({ name, cluster: Cluster })).nullish(),
  contexts: z.array(z.object({ name, context: Context })).nullish(),
  users: z.array(z.object({ name, user: User.nullish() })).nullish(),
});

type ClusterEntry = z.infer<typeof Cluster>;
type ContextEntry = z.infer<typeof Context>;
type UserEntry = z.infer<typeof User>;

/** One name's entry and the file that defined it (its paths resolve against that file's directory). */
interface Defined<T> {
  readonly value: T;
  readonly file: string;
}

interface Merged {
  /** The files read, in order. */
  readonly files: readonly string[];
  currentContext?: Defined<string>;
  readonly clusters: Map<string, Defined<ClusterEntry>>;
  readonly contexts: Map<string, Defined<ContextEntry>>;
  readonly users: Map<string, Defined<UserEntry>>;
}

/**
 * Reads the kubeconfig as kubectl would and resolves the context `context` (default: the
 * current-context). Where: `path` (one file, or a `:`-separated list like KUBECONFIG), else
 * $KUBECONFIG, else ~/.kube/config if it exists, else in-cluster (KUBERNETES_SERVICE_HOST/PORT and
 * the mounted ServiceAccount). A list is merged as client-go does: the first file to set
 * current-context wins, the first file to define a cluster, context or user name wins, and files
 * that do not exist are skipped.
 */
export function loadKubeconfig(
  path: string | undefined,
  context: string | undefined,
  sources: KubeconfigSources = {},
): ResolvedKubeconfig {
  const env = sources.env ?? process.env;
  const list = path ?? (env.KUBECONFIG || undefined);
  if (list) return resolveContext(readFiles(list), context);
  const home = 'homeDir' in sources ? sources.homeDir : homedir();
  const defaultFile = home ? join(home, '.kube', 'config') : undefined;
  if (defaultFile && existsSync(defaultFile)) return resolveContext(readFiles(defaultFile), context);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    if (context) throw new KubeconfigError(`no kubeconfig to take context "${context}" from (in-cluster)`);
    return inCluster(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT, sources);
  }
  throw new KubeconfigError(
    'no kubeconfig found: set KUBECONFIG (or pass --kubeconfig), create ~/.kube/config, or run in a Pod' +
      ' (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT)',
  );
}

function readFiles(list: string): Merged {
  const files = list.split(delimiter).filter((f) => f);
  // One file must exist; in a list the missing ones are skipped (client-go), but not all of them.
  const present = files.length === 1 ? files : files.filter((f) => existsSync(f));
  if (present.length === 0) throw new KubeconfigError(`none of the kubeconfig files exist: ${list}`);
  const merged: Merged = { files: present, clusters: new Map(), contexts: new Map(), users: new Map() };
  for (const file of present) {
    const doc = parseFile(file);
    if (doc['current-context'] && !merged.currentContext)
      merged.currentContext = { value: doc['current-context'], file };
    const add = <T>(map: Map<string, Defined<T>>, key: string, value: T) => {
      if (!map.has(key)) map.set(key, { value, file });
    };
    for (const c of doc.clusters ?? []) add(merged.clusters, c.name, c.cluster);
    for (const c of doc.contexts ?? []) add(merged.contexts, c.name, c.context);
    for (const u of doc.users ?? []) add(merged.users, u.name, u.user ?? {});
  }
  return merged;
}

function parseFile(file: string): z.infer<typeof KubeconfigFile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new KubeconfigError(`kubeconfig ${file} is not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const parsed = KubeconfigFile.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
    throw new KubeconfigError(`kubeconfig ${file}: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** `users[0].user.exec.command`, as a person would look for it in the file. */
function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(the document)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

function resolveContext(merged: Merged, wanted: string | undefined): ResolvedKubeconfig {
  const source = merged.files.join(delimiter);
  const name = wanted ?? merged.currentContext?.value;
  if (!name)
    throw new KubeconfigError(`kubeconfig ${source}: no current-context is set; set one or choose a context`);
  const ctx = merged.contexts.get(name);
  if (!ctx) {
    if (wanted) throw new KubeconfigError(`kubeconfig ${source} has no context "${name}"`);
    throw new KubeconfigError(
      `kubeconfig ${merged.currentContext?.file}: current-context "${name}" names no context in ${source}`,
    );
  }
  const cluster = merged.clusters.get(ctx.value.cluster);
  if (!cluster)
    throw new KubeconfigError(
      `kubeconfig ${ctx.file}: context "${name}" names cluster "${ctx.value.cluster}", which no file defines`,
    );
  const userName = ctx.value.user ?? '';
  const user = userName ? merged.users.get(userName) : undefined;
  if (userName && !user)
    throw new KubeconfigError(
      `kubeconfig ${ctx.file}: context "${name}" names user "${userName}", which no file defines`,
    );
  const c = cluster.value;
  const cdir = dirname(cluster.file);
  return {
    source,
    context: name,
    server: c.server,
    certificateAuthority: fileOrData(cdir, c['certificate-authority'], c['certificate-authority-data']),
    insecureSkipTlsVerify: c['insecure-skip-tls-verify'] ?? false,
    tlsServerName: c['tls-server-name'] || undefined,
    namespace: ctx.value.namespace || undefined,
    user: user ? resolveUser(userName, user) : { name: userName },
  };
}

function resolveUser(name: string, defined: Defined<UserEntry>): KubeconfigUser {
  const u = defined.value;
  const dir = dirname(defined.file);
  const tokenFile = u.tokenFile || u['token-file'];
  const exec = u.exec;
  const provider = u['auth-provider'];
  return {
    name,
    clientCertificate: fileOrData(dir, u['client-certificate'], u['client-certificate-data']),
    clientKey: fileOrData(dir, u['client-key'], u['client-key-data']),
    token: u.token || undefined,
    tokenFile: tokenFile ? resolvePath(dir, tokenFile) : undefined,
    exec: exec
      ? {
          // client-go resolves a command given as a relative path (one with a separator); a bare
          // name is looked up on PATH.
          command: exec.command.includes(sep) ? resolvePath(dir, exec.command) : exec.command,
          args: exec.args ?? undefined,
          env: exec.env ?? undefined,
          apiVersion: exec.apiVersion ?? undefined,
        }
      : undefined,
    impersonate: u.as || undefined,
    authProvider: provider ? { name: provider.name, config: provider.config ?? {} } : undefined,
  };
}

/** Data wins over a file when both are set (client-go). */
function fileOrData(dir: string, file: string | null | undefined, data: string | null | undefined) {
  if (data) return { data };
  if (file) return { file: isAbsolute(file) ? file : resolvePath(dir, file) };
  return undefined;
}

/** client-go's rest.InClusterConfig: the Service's address and the mounted ServiceAccount. */
function inCluster(host: string, port: string, sources: KubeconfigSources): ResolvedKubeconfig {
  const dir = sources.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const nsFile = join(dir, 'namespace');
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() || undefined : undefined;
  return {
    source: 'in-cluster',
    context: 'in-cluster',
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    certificateAuthority: { file: join(dir, 'ca.crt') },
    insecureSkipTlsVerify: false,
    namespace,
    user: { name: 'in-cluster', tokenFile: join(dir, 'token') },
  };
}
