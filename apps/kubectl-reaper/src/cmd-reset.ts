import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, Resources } from '@reaper-flow/k8s';
import type { Context } from './context';
import type { OverlayObject } from './objects';

export interface ResetFlags {
  readonly overlay: string;
  readonly timeoutMs: number;
}

const POLL_MS = 500;

/**
 * `reset rovl/NAME`: bumps spec.resetGeneration (a merge patch carrying the resourceVersion read,
 * so two operators resetting at once both see a conflict rather than one reset lost silently),
 * then prints each node as it applies the new generation until the overlay is Ready with
 * observedResetGeneration at it. Exit 1 on Failed or on the timeout.
 */
export async function resetCommand(ctx: Context, flags: ResetFlags): Promise<number> {
  const ref = Resources.reaperOverlays;
  const opts = { namespace: ctx.namespace };
  let target = 0;
  for (let attempt = 0; ; attempt++) {
    const overlay = await ctx.kube.get<OverlayObject>(ref, flags.overlay, opts);
    if (!overlay) {
      ctx.err.write(`Error from server (NotFound): reaperoverlays.reaper.io "${flags.overlay}" not found\n`);
      return 1;
    }
    target = (overlay.spec?.resetGeneration ?? 0) + 1;
    try {
      await ctx.kube.patch(
        ref,
        flags.overlay,
        'merge',
        {
          metadata: { resourceVersion: overlay.metadata.resourceVersion },
          spec: { resetGeneration: target },
        },
        opts,
      );
      break;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'Conflict') || attempt >= 4) throw err;
    }
  }
  ctx.out.write(`reaperoverlay.reaper.io/${flags.overlay} resetGeneration=${target}\n`);
  const deadline = Date.now() + flags.timeoutMs;
  const shown = new Map<string, string>();
  while (!ctx.signal.aborted) {
    const overlay = await ctx.kube.get<OverlayObject>(ref, flags.overlay, opts);
    const status = overlay?.status ?? {};
    const nodes = status.nodes ?? [];
    for (const node of nodes) {
      const applied = (node.resetGeneration ?? 0) >= target;
      const line = applied ? (node.ready ? 'reset, ready' : 'reset, not ready') : 'resetting';
      if (shown.get(node.nodeName) !== line) {
        shown.set(node.nodeName, line);
        const done = nodes.filter((n) => (n.resetGeneration ?? 0) >= target && n.ready).length;
        ctx.out.write(
          `[${node.nodeName}] ${line}${node.message ? ` (${node.message})` : ''}  ${done}/${nodes.length}\n`,
        );
      }
    }
    if (status.phase === 'Ready' && (status.observedResetGeneration ?? 0) >= target) {
      ctx.out.write(`reaperoverlay.reaper.io/${flags.overlay} Ready at resetGeneration ${target}\n`);
      return 0;
    }
    if (status.phase === 'Failed' && (status.observedResetGeneration ?? 0) < target) {
      ctx.err.write(
        `reaperoverlay.reaper.io/${flags.overlay} Failed: ${status.message ?? 'see status.nodes'}\n`,
      );
      return 1;
    }
    if (Date.now() >= deadline) {
      ctx.err.write(`timed out waiting for reaperoverlay.reaper.io/${flags.overlay} to be Ready\n`);
      return 2;
    }
    await sleep(POLL_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
  return 1;
}
