import { ReaperError } from '@reaper-flow/domain';
import { KubeClient } from '@reaper-flow/k8s';
import { type Style, styleFor } from './style';

/** What every subcommand gets: the API client, the namespace flags resolved like kubectl, output. */
export interface Context {
  readonly kube: KubeClient;
  /** -n, else the kubeconfig context's namespace, else `default`. */
  readonly namespace: string;
  readonly allNamespaces: boolean;
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly err: NodeJS.WritableStream;
  readonly style: Style;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM, so follows and waits stop cleanly. */
  readonly signal: AbortSignal;
}

export interface GlobalFlags {
  readonly namespace?: string | undefined;
  readonly context?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly allNamespaces: boolean;
}

export async function createContext(flags: GlobalFlags, signal: AbortSignal): Promise<Context> {
  const kube = await KubeClient.create({
    kubeconfigPath: flags.kubeconfig,
    context: flags.context,
    userAgent: 'kubectl-reaper',
  });
  return {
    kube,
    namespace: flags.namespace ?? kube.contextNamespace ?? 'default',
    allNamespaces: flags.allNamespaces,
    out: process.stdout,
    err: process.stderr,
    style: styleFor(process.stdout),
    env: process.env,
    signal,
  };
}

/** A usage mistake: printed with the usage hint, exit code 2. */
export class UsageError extends ReaperError {
  readonly code = 'plugin.Usage';
  readonly terminal = true;
}

/** `rdjob/NAME` (or `reaperdaemonjob/NAME`, ...) -> NAME, checking the kind. */
export function parseRef(arg: string | undefined, kinds: readonly string[], what: string): string {
  if (!arg) throw new UsageError(`expected ${what}`);
  const slash = arg.indexOf('/');
  if (slash < 0) throw new UsageError(`expected ${what}, got "${arg}"`);
  const kind = arg.slice(0, slash).toLowerCase();
  const name = arg.slice(slash + 1);
  if (!kinds.includes(kind) || name === '') throw new UsageError(`expected ${what}, got "${arg}"`);
  return name;
}

export const DAEMON_JOB_KINDS = [
  'rdjob',
  'rdjobs',
  'reaperdaemonjob',
  'reaperdaemonjobs',
  'reaperdaemonjob.reaper.io',
];
export const REAPER_POD_KINDS = ['rpod', 'rpods', 'reaperpod', 'reaperpods', 'reaperpod.reaper.io'];
export const OVERLAY_KINDS = ['rovl', 'rovls', 'reaperoverlay', 'reaperoverlays', 'reaperoverlay.reaper.io'];
