// OCI image-layout tarballs (what `ctr images import` and `podman load` read) written in our own
// code: no Docker, no registry. Reproducible: a layer is a tar of sorted entries with fixed owner and
// mtime (tar.ts), gzip-compressed by Node's zlib at a fixed level, whose header carries no timestamp
// (MTIME 0) and no file name; configs and manifests are JSON built in a fixed key order. Same inputs,
// same bytes, same digests.
import { createHash } from 'node:crypto';
import { constants, gzipSync } from 'node:zlib';
import { type TarEntry, TarEntryError, tarArchive } from './tar';

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** Fixed so the compressed bytes (and so the layer digest) never depend on a default. */
const GZIP_LEVEL = 9;
/** Image `created` time: the epoch, like the tar members. */
const CREATED = '1970-01-01T00:00:00Z';

/** The runtime part of an image config (what a container starts with when the Pod says nothing). */
export interface ImageRuntimeConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workingDir?: string;
  /** `uid[:gid]` or a name from the image's /etc/passwd. */
  readonly user?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ImageSpec {
  /**
   * The fully qualified reference containerd files the image under (`docker.io/reaper/placeholder:v1`):
   * the CRI looks images up by the normalized name, so `reaper/placeholder:v1` in a Pod finds it.
   */
  readonly name: string;
  /**
   * Layers, bottom first; each a list of entries (see `layerEntries`), or a layer already archived
   * and compressed by `compressedLayer` (so a layer shared by several images is compressed once).
   */
  readonly layers: readonly (readonly TarEntry[] | CompressedLayer)[];
  readonly config: ImageRuntimeConfig;
  readonly architecture?: string;
}

export interface LayerInfo {
  /** sha256 of the gzip blob (what the manifest names). */
  readonly digest: string;
  /** sha256 of the uncompressed tar (the config's `rootfs.diff_ids`). */
  readonly diffId: string;
  readonly size: number;
}

/** A layer's tar and its gzip blob, as `compressedLayer` makes them. */
export interface CompressedLayer {
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
  /** Size of the uncompressed tar, in bytes. */
  readonly tarSize: number;
  readonly gz: Buffer;
}

export interface OciImage {
  /** The image-layout tarball: `oci-layout`, `index.json`, `blobs/sha256/*`. */
  readonly tarball: Buffer;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layers: readonly LayerInfo[];
  /** The manifest's entry in index.json (with the image's name). */
  readonly descriptor: ManifestDescriptor;
  /** Every blob of the image (layers, config, manifest) by digest. */
  readonly blobs: ReadonlyMap<string, Buffer>;
}

export interface ManifestDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * Normalizes one layer's entries: adds every missing parent directory (mode 0755), sorts by path
 * (byte order, so parents come first) and refuses a path given twice. The result is what
 * `ociImage` expects.
 */
export function layerEntries(entries: readonly TarEntry[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const entry of entries) {
    if (byPath.has(entry.path)) throw new TarEntryError(`${entry.path} is in the layer twice`);
    byPath.set(entry.path, entry);
  }
  for (const entry of entries) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = byPath.get(dir);
      if (!existing) byPath.set(dir, { type: 'dir', path: dir, mode: 0o755 });
      else if (existing.type !== 'dir')
        throw new TarEntryError(`${dir} is not a directory but has ${entry.path}`);
    }
  }
  return [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** Builds the image-layout tarball of `spec`. Pure: same spec, same bytes. */
export function ociImage(spec: ImageSpec): OciImage {
  const blobs = new Map<string, Buffer>();
  const addBlob = (content: Buffer): string => {
    const digest = sha256(content);
    blobs.set(digest, content);
    return digest;
  };

  const layers: LayerInfo[] = spec.layers.map((layer) => {
    const { gz, diffId } = 'gz' in layer ? layer : compressedLayer(tarArchive(layer));
    return { digest: addBlob(gz), diffId, size: gz.length };
  });

  const c = spec.config;
  const config = json({
    created: CREATED,
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    config: {
      ...(c.user === undefined ? {} : { User: c.user }),
      ...(c.env === undefined ? {} : { Env: [...c.env] }),
      ...(c.entrypoint === undefined ? {} : { Entrypoint: [...c.entrypoint] }),
      ...(c.cmd === undefined ? {} : { Cmd: [...c.cmd] }),
      ...(c.workingDir === undefined ? {} : { WorkingDir: c.workingDir }),
      ...(c.labels === undefined ? {} : { Labels: sortedRecord(c.labels) }),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: CREATED, created_by: 'reaper-flow infra/images' })),
  });
  const configDigest = addBlob(config);

  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
  });
  const manifestDigest = addBlob(manifest);

  const descriptor: ManifestDescriptor = {
    mediaType: MEDIA.manifest,
    digest: manifestDigest,
    size: manifest.length,
    annotations: {
      'io.containerd.image.name': spec.name,
      'org.opencontainers.image.ref.name': tagOf(spec.name),
    },
  };
  return {
    tarball: layoutTarball([descriptor], blobs),
    manifestDigest,
    configDigest,
    layers,
    descriptor,
    blobs,
  };
}

/**
 * One image-layout tarball holding several images (index.json lists each manifest with its name):
 * a blob that several images share is in it once, so importing it moves each layer once.
 */
export function ociMultiImageArchive(images: readonly OciImage[]): Buffer {
  const blobs = new Map<string, Buffer>();
  for (const image of images) for (const [digest, content] of image.blobs) blobs.set(digest, content);
  return layoutTarball(
    images.map((i) => i.descriptor),
    blobs,
  );
}

function layoutTarball(manifests: readonly ManifestDescriptor[], blobs: ReadonlyMap<string, Buffer>): Buffer {
  const index = json({ schemaVersion: 2, mediaType: MEDIA.index, manifests });
  const files: TarEntry[] = [
    { type: 'file', path: 'oci-layout', mode: 0o644, content: json({ imageLayoutVersion: '1.0.0' }) },
    { type: 'file', path: 'index.json', mode: 0o644, content: index },
    ...[...blobs].map(
      ([digest, content]): TarEntry => ({
        type: 'file',
        path: `blobs/sha256/${digest.slice('sha256:'.length)}`,
        mode: 0o644,
        content,
      }),
    ),
  ];
  return tarArchive(layerEntries(files));
}

/**
 * A layer tar and its gzip blob. `gz` may come from a cache keyed by `diffId` (pass it): the blob is
 * a pure function of the tar, so a cached one is the one this would compute.
 */
export function compressedLayer(tar: Buffer, gz?: Buffer): CompressedLayer {
  return {
    diffId: sha256(tar),
    tarSize: tar.length,
    gz: gz ?? gzipSync(tar, { level: GZIP_LEVEL, strategy: constants.Z_DEFAULT_STRATEGY }),
  };
}

/** The tag of a reference (`latest` when it has none); a digest reference is not supported. */
export function tagOf(reference: string): string {
  if (reference.includes('@')) throw new TarEntryError(`${reference}: digest references are not supported`);
  const lastPart = reference.slice(reference.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  return colon === -1 ? 'latest' : lastPart.slice(colon + 1);
}

export function sha256(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
