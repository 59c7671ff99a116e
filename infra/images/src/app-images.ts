// The app images (watcher, scheduler, node-agent, dashboard) and the in-cluster Redis image, built
// without Docker from what is on this machine: the apps' bundles (dist/, scripts/build-apps.mjs),
// their production node_modules (npm ci --omit=dev from the lock file, staged once per lock file),
// the Node binary running this builder with the libraries it links, and Debian's redis-server.
//
// Layers of an app image, bottom first: the runtime (node, its libraries, /etc/passwd, /tmp), the
// production install under /app (the same for all four apps), the app's bundle with the /app/main.js
// link (and, for the node agent, umount). containerd keeps a layer shared by several images once.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  APP_EXTRA_PROGRAMS,
  APP_IMAGE,
  APP_IMAGE_TAG,
  appImageRepository,
  IMAGE_APPS,
  type ImageApp,
  PATH_ENV,
  REDIS_IMAGE,
} from './app-image-contents';
import { imageCacheDir } from './node-images';
import {
  type CompressedLayer,
  compressedLayer,
  layerEntries,
  type OciImage,
  ociImage,
  ociMultiImageArchive,
  sha256,
} from './oci';
import { normalizeReference } from './reference';
import { programEntries } from './runtime-files';
import { type TarEntry, tarArchive } from './tar';
import { treeEntries } from './tree-entries';

const run = promisify(execFile);

/** The repository root (infra/images/src -> ../../..). */
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const COMPLETE_MARK = '.reaper-flow-complete';

export interface ImageFile {
  /** The reference containerd files it under (`docker.io/reaper-flow/watcher:0.1.0`). */
  readonly name: string;
  /** The image-layout tarball. */
  readonly path: string;
  readonly manifestDigest: string;
  /** Sum of the layers' gzip blobs (what a registry would transfer). */
  readonly compressedSize: number;
  /** Sum of the layers' tars (what the image takes unpacked). */
  readonly uncompressedSize: number;
}

export interface AppImages {
  readonly images: readonly ImageFile[];
  /**
   * All of them in one image-layout tarball (`all.oci.tar`): the layers the app images share are in
   * it once, so one `ctr images import` of it moves a third of the four files' bytes.
   */
  readonly allInOne: string;
}

export interface BuildAppImagesOptions {
  readonly cacheDir?: string;
  readonly repoRoot?: string;
  /** Run `scripts/build-apps.mjs --if-stale` first (default true). */
  readonly buildApps?: boolean;
  readonly log?: (msg: string) => void;
}

/** Builds the four app images and the Redis image into `cacheDir` (reproducible: see oci.ts). */
export async function buildAppImages(opts: BuildAppImagesOptions = {}): Promise<AppImages> {
  const cacheDir = opts.cacheDir ?? imageCacheDir();
  const root = opts.repoRoot ?? REPO_ROOT;
  const log = opts.log ?? (() => undefined);
  await mkdir(cacheDir, { recursive: true });
  if (opts.buildApps ?? true)
    await run(process.execPath, [join(root, 'scripts/build-apps.mjs'), '--if-stale'], { cwd: root });
  for (const app of IMAGE_APPS) {
    if (!existsSync(join(root, APP_IMAGE.distDir(app), 'main.js')))
      throw new Error(`${APP_IMAGE.distDir(app)}/main.js is missing: run npm run build`);
  }
  const layers = new LayerCache(join(cacheDir, 'layers'));

  const runtime = await runtimeEntries();
  const runtimeLayer = await layers.get(runtime);
  const stage = await stageProductionDeps(root, join(cacheDir, 'npm-production'), log);
  const depsLayer = await layers.get(
    layerEntries(await treeEntries(stage, APP_IMAGE.workdir.slice(1), new Set([COMPLETE_MARK]))),
  );
  const inRuntime = new Set(runtime.map((e) => e.path));

  const images: ImageFile[] = [];
  const built: OciImage[] = [];
  for (const app of IMAGE_APPS) {
    const appLayer = await layers.get(await appEntries(root, app, inRuntime));
    const name = normalizeReference(`${appImageRepository(app)}:${APP_IMAGE_TAG}`);
    const image = ociImage({
      name,
      layers: [runtimeLayer, depsLayer, appLayer],
      config: {
        entrypoint: APP_IMAGE.entrypoint,
        env: [PATH_ENV, ...APP_IMAGE.env],
        workingDir: APP_IMAGE.workdir,
        user: APP_IMAGE.user,
        labels: { 'org.opencontainers.image.title': `reaper-flow ${app}` },
      },
    });
    images.push(await save(cacheDir, `app-${app}`, name, image, [runtimeLayer, depsLayer, appLayer]));
    built.push(image);
  }
  const redis = await buildRedisImage(cacheDir, layers);
  images.push(redis.file);
  built.push(redis.image);
  const allInOne = join(cacheDir, 'all.oci.tar');
  await writeAtomically(allInOne, ociMultiImageArchive(built));
  return { images, allInOne };
}

/** Node at /usr/local/bin/node with its libraries, the users, /tmp. */
async function runtimeEntries(): Promise<TarEntry[]> {
  const programs = await programEntries([{ host: process.execPath, image: APP_IMAGE.node }]);
  return layerEntries([
    ...programs,
    text('etc/passwd', 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/tmp:/sbin/nologin\n'),
    text('etc/group', 'root:x:0:\nnode:x:1000:\n'),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
  ]);
}

async function appEntries(root: string, app: ImageApp, inRuntime: ReadonlySet<string>): Promise<TarEntry[]> {
  const dist = APP_IMAGE.distDir(app);
  const workdir = APP_IMAGE.workdir.slice(1);
  const extra = await programEntries(
    APP_EXTRA_PROGRAMS[app].map((p) => ({ host: p, image: p })),
    inRuntime,
  );
  return layerEntries([
    ...(await treeEntries(join(root, dist), `${workdir}/${dist}`)),
    { type: 'symlink', path: `${workdir}/${APP_IMAGE.mainLink}`, target: APP_IMAGE.mainTarget(app) },
    ...extra,
  ]);
}

async function buildRedisImage(
  cacheDir: string,
  layers: LayerCache,
): Promise<{ readonly file: ImageFile; readonly image: OciImage }> {
  const { stdout } = await run(REDIS_IMAGE.programs[0], ['--version']);
  const version = stdout.match(/\bv=(\d+\.\d+\.\d+)/)?.[1];
  if (!version) throw new Error(`unexpected redis-server --version output: ${stdout.trim()}`);
  const entries = layerEntries([
    ...(await programEntries(REDIS_IMAGE.programs.map((p) => ({ host: p, image: p })))),
    text('etc/passwd', 'root:x:0:0:root:/root:/sbin/nologin\nredis:x:999:999:redis:/data:/sbin/nologin\n'),
    text('etc/group', 'root:x:0:\nredis:x:999:\n'),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    // Writable by the redis user without a chown (tar owners are fixed); a PersistentVolume is
    // normally mounted over it.
    { type: 'dir', path: REDIS_IMAGE.dataDir, mode: 0o777 },
  ]);
  const layer = await layers.get(entries);
  const name = normalizeReference(`${REDIS_IMAGE.repository}:${version}`);
  const image = ociImage({
    name,
    layers: [layer],
    config: {
      entrypoint: REDIS_IMAGE.entrypoint,
      env: [PATH_ENV],
      workingDir: `/${REDIS_IMAGE.dataDir}`,
      user: REDIS_IMAGE.user,
      labels: { 'org.opencontainers.image.title': `Debian's redis-server ${version}` },
    },
  });
  return { file: await save(cacheDir, 'redis', name, image, [layer]), image };
}

/**
 * Stages `npm ci --omit=dev` of the lock file in a directory of its own, keyed by everything npm
 * reads (lock file, .npmrc, every workspace's package.json, npm's version): an unchanged key reuses
 * the staged install. npm installs exactly what the lock file pins (checked against its integrity
 * hashes), so the same key gives the same files.
 */
export async function stageProductionDeps(
  root: string,
  stagesDir: string,
  log: (msg: string) => void = () => undefined,
): Promise<string> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    workspaces?: string[];
  };
  const inputs = [
    'package.json',
    'package-lock.json',
    '.npmrc',
    ...(manifest.workspaces ?? []).map((ws) => `${ws}/package.json`),
  ];
  const { stdout: npmVersion } = await run('npm', ['--version']);
  const key = createHash('sha256').update(`npm ${npmVersion.trim()}\n${APP_IMAGE.npmCiArgs.join(' ')}\n`);
  for (const file of inputs) key.update(`${file}\n`).update(await readFile(join(root, file)));
  const dir = join(stagesDir, key.digest('hex').slice(0, 16));
  if (existsSync(join(dir, COMPLETE_MARK))) return dir;

  log(`staging the production node_modules (npm ${APP_IMAGE.npmCiArgs.join(' ')}) in ${dir}`);
  const t0 = performance.now();
  await rm(dir, { recursive: true, force: true });
  for (const file of inputs) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await copyFile(join(root, file), join(dir, file));
  }
  // --prefer-offline only says where npm takes the tarballs from (its cache first); the files are
  // the ones the lock file's integrity hashes name either way.
  await run('npm', [...APP_IMAGE.npmCiArgs, '--prefer-offline'], { cwd: dir, maxBuffer: 16 << 20 });
  await writeFile(join(dir, COMPLETE_MARK), '');
  log(`staged in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}

/**
 * Compressed layers by the sha256 of their tar: gzip at level 9 is most of a build's time, and its
 * output is a pure function of the tar, so a layer whose tar is unchanged reuses its blob.
 */
class LayerCache {
  constructor(private readonly dir: string) {}

  async get(entries: readonly TarEntry[]): Promise<CompressedLayer> {
    const tar = tarArchive(entries);
    const file = join(this.dir, `${sha256(tar).slice('sha256:'.length)}.tar.gz`);
    const cached = existsSync(file) ? await readFile(file) : undefined;
    const layer = compressedLayer(tar, cached);
    if (!cached) {
      await mkdir(this.dir, { recursive: true });
      await writeAtomically(file, layer.gz);
    }
    return layer;
  }
}

async function save(
  cacheDir: string,
  file: string,
  name: string,
  image: OciImage,
  layers: readonly CompressedLayer[],
): Promise<ImageFile> {
  const path = join(cacheDir, `${file}.oci.tar`);
  await writeAtomically(path, image.tarball);
  return {
    name,
    path,
    manifestDigest: image.manifestDigest,
    compressedSize: layers.reduce((sum, l) => sum + l.gz.length, 0),
    uncompressedSize: layers.reduce((sum, l) => sum + l.tarSize, 0),
  };
}

/** Another build reading `path` sees the old file or the new one, never half of one. */
async function writeAtomically(path: string, content: Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

function text(path: string, content: string): TarEntry {
  return { type: 'file', path, mode: 0o644, content: Buffer.from(content) };
}
