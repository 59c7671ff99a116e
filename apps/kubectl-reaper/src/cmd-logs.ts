import { createInterface } from 'node:readline';
import { ApiError, Resources, resourcePath } from '@reaper-flow/k8s';
import type { Context } from './context';
import type { DaemonJobObject, ReaperPodObject } from './objects';

export interface LogsFlags {
  readonly job?: string | undefined;
  readonly reaperPod?: string | undefined;
  readonly node?: string | undefined;
  readonly follow: boolean;
  readonly failed: boolean;
}

interface Source {
  readonly node: string;
  readonly reaperPod: string;
}

/**
 * `logs rdjob/NAME` / `logs rpod/NAME`: each node's output through the API server's pods/log (what
 * `kubectl logs` reads), every line prefixed `[node]`. With -f the streams are followed together
 * until every Pod has finished.
 */
export async function logsCommand(ctx: Context, flags: LogsFlags): Promise<number> {
  const sources = await sourcesOf(ctx, flags);
  if (sources === undefined) return 1;
  if (sources.length === 0) {
    ctx.err.write('no node has a ReaperPod to show the output of\n');
    return flags.node || flags.failed ? 1 : 0;
  }
  let failures = 0;
  const show = async (source: Source) => {
    try {
      await streamLog(ctx, source, flags.follow);
    } catch (err) {
      failures++;
      ctx.err.write(
        `[${source.node}] cannot read the log of ${source.reaperPod}: ${(err as Error).message}\n`,
      );
    }
  };
  if (flags.follow) await Promise.all(sources.map(show));
  else for (const source of sources) await show(source);
  return failures > 0 ? 1 : 0;
}

async function sourcesOf(ctx: Context, flags: LogsFlags): Promise<Source[] | undefined> {
  if (flags.reaperPod) {
    const pod = await ctx.kube.get<ReaperPodObject>(Resources.reaperPods, flags.reaperPod, {
      namespace: ctx.namespace,
    });
    if (!pod) {
      ctx.err.write(`Error from server (NotFound): reaperpods.reaper.io "${flags.reaperPod}" not found\n`);
      return undefined;
    }
    return [{ node: pod.status?.nodeName ?? pod.spec?.nodeName ?? '?', reaperPod: pod.metadata.name }];
  }
  const name = flags.job ?? '';
  const job = await ctx.kube.get<DaemonJobObject>(Resources.reaperDaemonJobs, name, {
    namespace: ctx.namespace,
  });
  if (!job) {
    ctx.err.write(`Error from server (NotFound): reaperdaemonjobs.reaper.io "${name}" not found\n`);
    return undefined;
  }
  return (job.status?.nodeStatuses ?? [])
    .filter((n) => n.reaperPodName !== undefined)
    .filter((n) => flags.node === undefined || n.nodeName === flags.node)
    .filter((n) => !flags.failed || n.phase === 'Failed')
    .map((n) => ({ node: n.nodeName, reaperPod: n.reaperPodName as string }));
}

async function streamLog(ctx: Context, source: Source, follow: boolean): Promise<void> {
  const rpod = await ctx.kube.get<ReaperPodObject>(Resources.reaperPods, source.reaperPod, {
    namespace: ctx.namespace,
  });
  const podName = rpod?.status?.podName;
  if (!podName) throw new Error('its Pod has not been created yet');
  const path = `${resourcePath(Resources.pods, { namespace: ctx.namespace, name: podName })}/log`;
  let res: Awaited<ReturnType<typeof ctx.kube.openStream>>;
  try {
    res = await ctx.kube.openStream(path, follow ? { follow: 'true' } : {}, ctx.signal);
  } catch (err) {
    if (err instanceof ApiError) throw new Error(err.message);
    throw err;
  }
  const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) ctx.out.write(`[${source.node}] ${line}\n`);
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  } finally {
    res.destroy();
  }
}
