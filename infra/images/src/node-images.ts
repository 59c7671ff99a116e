// The two images every real node of the local cluster needs, built on this machine: the pod sandbox's
// pause image and the placeholder image the backing Pods of ReaperPods name.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PLACEHOLDER_IMAGE } from '@reaper-flow/domain';
import { hostFile, isStaticElf } from './host-files';
import { layerEntries, type OciImage, ociImage } from './oci';
import { normalizeReference } from './reference';
import type { TarEntry } from './tar';

const run = promisify(execFile);

/** containerd's sandbox image on the real nodes; `localhost/` so nothing ever tries to pull it. */
export const PAUSE_IMAGE = 'localhost/reaper-flow/pause:v1';
/** What the backing Pods name (`reaper/placeholder:v1`), as containerd files it. */
export const PLACEHOLDER_IMAGE_REF = normalizeReference(PLACEHOLDER_IMAGE);
/** Debian's busybox-static: the placeholder's shell and tools. */
export const BUSYBOX = '/bin/busybox';

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface BuiltImage {
  readonly name: string;
  /** The image-layout tarball in the cache dir. */
  readonly path: string;
  readonly manifestDigest: string;
  readonly size: number;
}

/** `$REAPER_FLOW_CACHE/images` (default `~/.cache/reaper-flow/images`): outside the work tree. */
export function imageCacheDir(): string {
  return join(process.env.REAPER_FLOW_CACHE ?? join(homedir(), '.cache/reaper-flow'), 'images');
}

/**
 * Builds the pause image (a static C program compiled here with gcc -static) and the placeholder
 * image (Debian's static busybox with its applet links, /etc/passwd and /tmp) into `cacheDir`.
 * Cheap (well under a second), so it runs at every start; the tarballs are reproducible, so an
 * unchanged input gives the same digest.
 */
export async function buildNodeImages(cacheDir = imageCacheDir()): Promise<{
  readonly pause: BuiltImage;
  readonly placeholder: BuiltImage;
}> {
  await mkdir(cacheDir, { recursive: true });
  const pauseBinary = await compilePause(cacheDir);
  const [pause, placeholder] = await Promise.all([
    save(cacheDir, 'pause', PAUSE_IMAGE, pauseImage(pauseBinary)),
    placeholderLayer().then((layer) =>
      save(
        cacheDir,
        'placeholder',
        PLACEHOLDER_IMAGE_REF,
        ociImage({ name: PLACEHOLDER_IMAGE_REF, layers: [layer], config: { env: [PATH_ENV], cmd: ['sh'] } }),
      ),
    ),
  ]);
  return { pause, placeholder };
}

/** The pause image: one file, `/pause`, its entrypoint. */
export function pauseImage(binary: Buffer): OciImage {
  return ociImage({
    name: PAUSE_IMAGE,
    layers: [layerEntries([{ type: 'file', path: 'pause', mode: 0o755, content: binary }])],
    config: { entrypoint: ['/pause'], user: '65535:65535' },
  });
}

async function compilePause(cacheDir: string): Promise<Buffer> {
  const source = new URL('./pause.c', import.meta.url).pathname;
  const out = join(cacheDir, '.pause.bin');
  try {
    // No build id, stripped: the bytes depend only on the source and the compiler.
    await run('gcc', ['-static', '-Os', '-s', '-Wl,--build-id=none', '-o', out, source]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`compiling the pause program failed (gcc and libc6-dev are needed): ${stderr.trim()}`, {
      cause: err,
    });
  }
  const binary = await readFile(out);
  await rm(out, { force: true });
  if (!isStaticElf(binary)) throw new Error('gcc -static produced a dynamically linked pause binary');
  return binary;
}

async function placeholderLayer(): Promise<TarEntry[]> {
  const busybox = await hostFile(BUSYBOX, 'bin/busybox', 0o755).catch((err: Error) => {
    throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (${err.message})`);
  });
  if (busybox.type !== 'file' || !isStaticElf(busybox.content))
    throw new Error(`${BUSYBOX} is not statically linked: install busybox-static, not busybox`);
  const { stdout } = await run(BUSYBOX, ['--list-full']);
  const links = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'bin/busybox')
    .map((path): TarEntry => ({ type: 'symlink', path, target: '/bin/busybox' }));
  const text = (path: string, content: string): TarEntry => ({
    type: 'file',
    path,
    mode: 0o644,
    content: Buffer.from(content),
  });
  return layerEntries([
    busybox,
    ...links,
    text(
      'etc/passwd',
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    ),
    text('etc/group', 'root:x:0:\nnogroup:x:65534:\n'),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'root', mode: 0o700 },
  ]);
}

async function save(cacheDir: string, file: string, name: string, image: OciImage): Promise<BuiltImage> {
  const path = join(cacheDir, `${file}.oci.tar`);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, image.tarball);
  await rename(tmp, path);
  return { name, path, manifestDigest: image.manifestDigest, size: image.tarball.length };
}
