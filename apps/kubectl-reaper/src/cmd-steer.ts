import { ApiError, Resources } from '@reaper-flow/k8s';
import type { Context } from './context';

const notFound = (ctx: Context, name: string): number => {
  ctx.err.write(`Error from server (NotFound): reaperdaemonjobs.reaper.io "${name}" not found\n`);
  return 1;
};

/**
 * Sets `annotation` to a fresh value (the time, to the millisecond): the scheduler acts on a value
 * it has not acted on before, so running this twice asks twice. `trigger` uses reaper.io/trigger
 * (a Manual run on every target node), `retry --failed` reaper.io/retry-failed (only the nodes that
 * failed in the current run, with fresh retry counts).
 */
export async function annotateCommand(
  ctx: Context,
  name: string,
  annotation: string,
  what: string,
): Promise<number> {
  const value = new Date().toISOString();
  try {
    await ctx.kube.patch(
      Resources.reaperDaemonJobs,
      name,
      'merge',
      { metadata: { annotations: { [annotation]: value } } },
      { namespace: ctx.namespace },
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NotFound') return notFound(ctx, name);
    throw err;
  }
  ctx.out.write(`reaperdaemonjob.reaper.io/${name} ${what} (${annotation}=${value})\n`);
  return 0;
}

/** `suspend` / `resume`: spec.suspend true / false (running node-runs finish either way). */
export async function suspendCommand(ctx: Context, name: string, suspend: boolean): Promise<number> {
  try {
    await ctx.kube.patch(
      Resources.reaperDaemonJobs,
      name,
      'merge',
      { spec: { suspend } },
      { namespace: ctx.namespace },
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'NotFound') return notFound(ctx, name);
    throw err;
  }
  ctx.out.write(`reaperdaemonjob.reaper.io/${name} ${suspend ? 'suspended' : 'resumed'}\n`);
  return 0;
}
