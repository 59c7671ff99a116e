import { parseArgs } from 'node:util';
import { historyCommand } from './cmd-history';
import { logsCommand } from './cmd-logs';
import { resetCommand } from './cmd-reset';
import { annotateCommand, suspendCommand } from './cmd-steer';
import { treeCommand } from './cmd-tree';
import { waitCommand } from './cmd-wait';
import {
  createContext,
  DAEMON_JOB_KINDS,
  OVERLAY_KINDS,
  parseRef,
  REAPER_POD_KINDS,
  UsageError,
} from './context';
import { RETRY_FAILED_ANNOTATION, TRIGGER_ANNOTATION } from './objects';

export const USAGE = `kubectl reaper: operate reaper-flow's ReaperDaemonJobs

Usage:
  kubectl reaper get|tree [rdjob/NAME] [--nodes] [-o json]
  kubectl reaper logs rdjob/NAME [--node N] [--failed] [-f]
  kubectl reaper logs rpod/NAME [-f]
  kubectl reaper history rdjob/NAME [--node N] [-o json] [--history-url URL]
  kubectl reaper trigger rdjob/NAME
  kubectl reaper retry rdjob/NAME --failed
  kubectl reaper suspend|resume rdjob/NAME
  kubectl reaper reset rovl/NAME [--timeout 5m]
  kubectl reaper wait rdjob/NAME [--timeout 10m]

Flags like kubectl: -n/--namespace, -A/--all-namespaces (get/tree), --context, --kubeconfig.
wait exits 0 when the job is Completed, 1 when PartiallyFailed, 2 on a timeout.
`;

/** `30s`, `5m`, `1h`, `90` (seconds) -> ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new UsageError(`--timeout: "${text}" is not a duration like 30s, 5m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** Runs the plugin with `argv` (without node and the script) and resolves to its exit code. */
export async function run(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A', default: false },
      context: { type: 'string' },
      kubeconfig: { type: 'string' },
      output: { type: 'string', short: 'o' },
      nodes: { type: 'boolean', default: false },
      node: { type: 'string' },
      follow: { type: 'boolean', short: 'f', default: false },
      failed: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      'history-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, target, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  if (values.output !== undefined && values.output !== 'json') {
    throw new UsageError(`-o: only json is supported, got "${values.output}"`);
  }
  const ctx = await createContext(
    {
      namespace: values.namespace,
      context: values.context,
      kubeconfig: values.kubeconfig,
      allNamespaces: values['all-namespaces'],
    },
    signal,
  );
  try {
    switch (command) {
      case 'get':
      case 'tree':
        return await treeCommand(ctx, {
          job: target === undefined ? undefined : parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME'),
          nodes: values.nodes,
          output: values.output,
        });
      case 'logs': {
        const isPod =
          target !== undefined && REAPER_POD_KINDS.includes(target.split('/')[0]?.toLowerCase() ?? '');
        return await logsCommand(ctx, {
          ...(isPod
            ? { reaperPod: parseRef(target, REAPER_POD_KINDS, 'rpod/NAME') }
            : { job: parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME or rpod/NAME') }),
          node: values.node,
          follow: values.follow,
          failed: values.failed,
        });
      }
      case 'history':
        return await historyCommand(ctx, {
          job: parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME'),
          node: values.node,
          output: values.output,
          historyUrl: values['history-url'],
        });
      case 'trigger':
        return await annotateCommand(
          ctx,
          parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME'),
          TRIGGER_ANNOTATION,
          'triggered',
        );
      case 'retry':
        if (!values.failed) throw new UsageError('retry re-runs the failed nodes only: pass --failed');
        return await annotateCommand(
          ctx,
          parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME'),
          RETRY_FAILED_ANNOTATION,
          'retrying its failed nodes',
        );
      case 'suspend':
      case 'resume':
        return await suspendCommand(
          ctx,
          parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME'),
          command === 'suspend',
        );
      case 'reset':
        return await resetCommand(ctx, {
          overlay: parseRef(target, OVERLAY_KINDS, 'rovl/NAME'),
          timeoutMs: parseDuration(values.timeout ?? '5m'),
        });
      case 'wait':
        return await waitCommand(ctx, {
          job: parseRef(target, DAEMON_JOB_KINDS, 'rdjob/NAME'),
          timeoutMs: parseDuration(values.timeout ?? '10m'),
        });
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    ctx.kube.close();
  }
}
