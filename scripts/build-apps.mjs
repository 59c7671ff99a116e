// Builds every app to JavaScript: one esbuild bundle per app under dist/<app>/ (git-ignored).
//
//   node scripts/build-apps.mjs              build all apps (`npm run build`)
//   node scripts/build-apps.mjs --if-stale   build only when an output is missing or older than
//                                            one of its inputs (what bin/kubectl-reaper and the
//                                            test harness call before they run the output)
//   node scripts/build-apps.mjs --check      exit 1 (naming the app) when a build is stale
//
// Why a bundle and not `tsc` emit: the workspace packages export their TypeScript sources
// (`"exports": "./src/index.ts"`) and import each other without file extensions, which Node's ESM
// loader cannot run. esbuild inlines our own code (apps/*, packages/*) into one ES module per app
// and leaves every third-party package external, so it is loaded from node_modules as Node would
// load it anywhere (native addons, BullMQ's Lua scripts, pino's worker files stay where their
// packages expect them). Types are checked by `npm run typecheck` (tsc), not here.
//
// Each bundle has a source map beside it (main.js.map, without the sources' text): run it with
// `node --enable-source-maps` and stack traces name the TypeScript files and lines.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The apps and the TypeScript entry each one's bundle starts from. */
export const APPS = {
  watcher: 'apps/watcher/src/main.ts',
  scheduler: 'apps/scheduler/src/main.ts',
  'node-agent': 'apps/node-agent/src/main.ts',
  dashboard: 'apps/dashboard/src/main.ts',
  'kubectl-reaper': 'apps/kubectl-reaper/src/cli.ts',
};

/** Where an app's bundle is written. */
export const outputOf = (app) => join(root, 'dist', app, 'main.js');
const metaOf = (app) => join(root, 'dist', app, 'inputs.json');

/** Files that change every bundle without being one of its inputs. */
const SHARED_INPUTS = ['scripts/build-apps.mjs', 'tsconfig.json', 'tsconfig.base.json', 'package-lock.json'];

const log = (msg) => process.stderr.write(`[build] ${msg}\n`);

/**
 * Why `app` needs a build (missing output, or the first input newer than it), or undefined when
 * its bundle is current. Reads the list of inputs esbuild recorded at the last build: a new
 * source file can only enter the bundle through an import in a file already listed, which then
 * is newer.
 */
export function staleReason(app) {
  const out = outputOf(app);
  if (!existsSync(out) || !existsSync(metaOf(app))) return 'not built';
  const built = statSync(out).mtimeMs;
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(metaOf(app), 'utf8'));
  } catch {
    return 'no readable input list';
  }
  for (const file of [...SHARED_INPUTS, ...inputs]) {
    const path = join(root, file);
    if (!existsSync(path)) return `${file} is gone`;
    if (statSync(path).mtimeMs > built) return `${file} changed`;
  }
  return undefined;
}

/** Our own code is bundled; everything else (node_modules, node: builtins) stays an import. */
const externalThirdParty = {
  name: 'external-third-party',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@reaper-flow/') ? undefined : { path: args.path, external: true },
    );
  },
};

/** Builds the given apps (all by default) and returns how long it took, in ms. */
export async function buildApps(apps = Object.keys(APPS)) {
  const { build } = await import('esbuild');
  const t0 = performance.now();
  await Promise.all(
    apps.map(async (app) => {
      const out = outputOf(app);
      await mkdir(dirname(out), { recursive: true });
      // Without its input list a bundle counts as not built, so an interrupted build is redone.
      await rm(metaOf(app), { force: true });
      const result = await build({
        absWorkingDir: root,
        entryPoints: [APPS[app]],
        outfile: out,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20.18',
        sourcemap: 'linked',
        sourcesContent: false,
        plugins: [externalThirdParty],
        metafile: true,
        logLevel: 'warning',
        legalComments: 'none',
      });
      const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
      await writeFile(metaOf(app), `${JSON.stringify(inputs.sort(), null, 1)}\n`);
    }),
  );
  return performance.now() - t0;
}

/** Builds the apps whose bundle is stale; returns the names built. */
export async function buildStale(apps = Object.keys(APPS)) {
  const stale = apps.filter((app) => staleReason(app) !== undefined);
  if (stale.length === 0) return [];
  for (const app of stale) log(`${app}: ${staleReason(app)}`);
  const ms = await buildApps(stale);
  log(`built ${stale.join(', ')} in ${(ms / 1000).toFixed(1)} s`);
  return stale;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const flags = new Set(process.argv.slice(2));
  if (flags.has('--check')) {
    const stale = Object.keys(APPS).flatMap((app) => {
      const why = staleReason(app);
      return why ? [`${app} (${why})`] : [];
    });
    if (stale.length > 0) {
      log(`stale: ${stale.join(', ')}; run npm run build`);
      process.exit(1);
    }
  } else if (flags.has('--if-stale')) {
    await buildStale();
  } else {
    const ms = await buildApps();
    const apps = Object.keys(APPS).map((a) => relative(root, outputOf(a)));
    log(`built ${apps.join(', ')} in ${(ms / 1000).toFixed(1)} s`);
  }
}
