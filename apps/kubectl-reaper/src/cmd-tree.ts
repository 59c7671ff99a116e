import { Resources } from '@reaper-flow/k8s';
import type { Context } from './context';
import type { DaemonJobObject, ReaperPodObject } from './objects';
import { type JobView, jobView, renderTrees } from './tree';

export interface TreeFlags {
  readonly job?: string | undefined;
  readonly nodes: boolean;
  readonly output?: string | undefined;
}

/** `get` / `tree [rdjob/NAME]`: the after DAG of the namespace (or of every namespace with -A). */
export async function treeCommand(ctx: Context, flags: TreeFlags): Promise<number> {
  const namespace = ctx.allNamespaces ? undefined : ctx.namespace;
  const [jobs, pods] = await Promise.all([
    ctx.kube.listAll<DaemonJobObject>(Resources.reaperDaemonJobs, { namespace }),
    flags.nodes || flags.output === 'json'
      ? ctx.kube.listAll<ReaperPodObject>(Resources.reaperPods, { namespace })
      : undefined,
  ]);
  const podsByName = pods
    ? new Map(pods.items.map((p) => [`${p.metadata.namespace ?? ''}/${p.metadata.name}`, p]))
    : undefined;
  let views: JobView[] = jobs.items.map((job) => {
    const ns = job.metadata.namespace ?? ctx.namespace;
    const mine = podsByName
      ? new Map(
          [...podsByName]
            .filter(([k]) => k.startsWith(`${ns}/`))
            .map(([k, p]) => [k.slice(ns.length + 1), p]),
        )
      : undefined;
    return jobView(job, mine, ctx.namespace);
  });
  if (flags.job) {
    views = views.filter((v) => v.name === flags.job);
    if (views.length === 0) {
      ctx.err.write(`Error from server (NotFound): reaperdaemonjobs.reaper.io "${flags.job}" not found\n`);
      return 1;
    }
  }
  if (flags.output === 'json') {
    ctx.out.write(`${JSON.stringify({ items: views }, null, 2)}\n`);
    return 0;
  }
  ctx.out.write(renderTrees(views, ctx.style, ctx.allNamespaces));
  return 0;
}
