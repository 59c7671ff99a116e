// How every process reaper-flow ships is started outside a container (tests, demo, benchmark):
// the bundle `npm run build` writes (scripts/build-apps.mjs) under node with source maps, the same
// command the images run. tsx runs only development tools (this CLI, the stand-in kubelet).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths';

export type BuiltApp = 'watcher' | 'scheduler' | 'node-agent' | 'dashboard' | 'kubectl-reaper';

/** The built entry of an app: `dist/<app>/main.js` under the repository root. */
export function builtAppEntry(app: BuiltApp): string {
  return join(REPO_ROOT, 'dist', app, 'main.js');
}

/** Node's flags for every built app: TypeScript file names and lines in stack traces. */
export const BUILT_APP_NODE_FLAGS: readonly string[] = ['--enable-source-maps'];

/**
 * The arguments after `node` that run a built app (flags, then the entry). Throws, naming the fix,
 * when the app was never built; `npm test`, `npm run demo` and `npm run bench` build first.
 */
export function builtAppArgs(app: BuiltApp, extraNodeFlags: readonly string[] = []): string[] {
  const entry = builtAppEntry(app);
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  return [...BUILT_APP_NODE_FLAGS, ...extraNodeFlags, entry];
}
