import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isStaticElf } from './host-files';
import { compressedLayer, layerEntries, ociImage, ociMultiImageArchive } from './oci';
import { normalizeReference } from './reference';
import { type TarEntry, TarEntryError, tarArchive } from './tar';

interface Member {
  readonly path: string;
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly mtime: number;
  readonly link: string;
  readonly content: Buffer;
}

/** Reads a tar the way GNU tar does for what we write (ustar + pax `path`/`linkpath`). */
function readTar(tar: Buffer): Member[] {
  const members: Member[] = [];
  let pax: Record<string, string> = {};
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const field = (o: number, n: number) =>
      h
        .subarray(o, o + n)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const num = (o: number, n: number) => Number.parseInt(field(o, n).trim() || '0', 8);
    const stored = num(148, 8);
    const copy = Buffer.from(h);
    copy.fill(' ', 148, 156);
    expect(
      copy.reduce((s, b) => s + b, 0),
      `checksum of ${field(0, 100)}`,
    ).toBe(stored);
    const size = num(124, 12);
    const content = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    const type = field(156, 1);
    if (type === 'x') {
      pax = Object.fromEntries(
        content
          .toString('utf8')
          .split('\n')
          .filter(Boolean)
          .map((r) => r.slice(r.indexOf(' ') + 1).split(/=(.*)/s, 2) as [string, string]),
      );
      continue;
    }
    members.push({
      path: pax.path ?? field(0, 100),
      type,
      mode: num(100, 8),
      uid: num(108, 8),
      mtime: num(136, 12),
      link: pax.linkpath ?? field(157, 100),
      content: Buffer.from(content),
    });
    pax = {};
  }
  return members;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const files: TarEntry[] = [
  { type: 'file', path: 'usr/share/doc/readme', mode: 0o644, content: Buffer.from('hello\n') },
  { type: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
  { type: 'file', path: 'bin/busybox', mode: 0o755, content: Buffer.alloc(3000, 7) },
  { type: 'file', path: `deep/${'x'.repeat(120)}/file`, mode: 0o600, content: Buffer.from('long') },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
];
const spec = (entries: readonly TarEntry[]) => ({
  name: 'docker.io/reaper/placeholder:v1',
  layers: [layerEntries(entries)],
  config: { env: ['PATH=/bin'], cmd: ['sh'] },
});

describe('OCI image-layout tarballs', () => {
  it('the same inputs give the same bytes and digests, whatever order the files come in', () => {
    const a = ociImage(spec(files));
    const b = ociImage(spec([...files].reverse()));
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(b.tarball.equals(a.tarball)).toBe(true);
    const changed = ociImage(spec([...files, { type: 'dir', path: 'etc', mode: 0o755 }]));
    expect(changed.manifestDigest).not.toBe(a.manifestDigest);
  });

  it('a layer compressed once (or taken from the cache by its diff id) gives the same image', () => {
    const tar = tarArchive(layerEntries(files));
    const once = compressedLayer(tar);
    expect(once.diffId).toBe(sha(tar));
    expect(once.tarSize).toBe(tar.length);
    expect(compressedLayer(tar).gz.equals(once.gz)).toBe(true);
    expect(gunzipSync(once.gz).equals(tar)).toBe(true);
    const fromEntries = ociImage(spec(files));
    const fromLayer = ociImage({ ...spec(files), layers: [compressedLayer(tar, once.gz)] });
    expect(fromLayer.tarball.equals(fromEntries.tarball)).toBe(true);
  });

  it('several images in one archive: each named in index.json, a shared layer stored once', () => {
    const shared = compressedLayer(tarArchive(layerEntries(files)));
    const own = (name: string) =>
      ociImage({
        name: `docker.io/reaper-flow/${name}:0.1.0`,
        layers: [
          shared,
          layerEntries([{ type: 'file', path: name, mode: 0o644, content: Buffer.from(name) }]),
        ],
        config: {},
      });
    const [a, b] = [own('a'), own('b')];
    const members = readTar(ociMultiImageArchive([a, b]));
    const index = JSON.parse(members.find((m) => m.path === 'index.json')?.content.toString() ?? '{}');
    expect(
      index.manifests.map((m: { digest: string; annotations: Record<string, string> }) => [
        m.digest,
        m.annotations['io.containerd.image.name'],
      ]),
    ).toEqual([
      [a.manifestDigest, 'docker.io/reaper-flow/a:0.1.0'],
      [b.manifestDigest, 'docker.io/reaper-flow/b:0.1.0'],
    ]);
    const blobPaths = members.filter((m) => m.path.startsWith('blobs/sha256/') && m.type === '0');
    const sharedPath = `blobs/sha256/${sha(shared.gz).slice('sha256:'.length)}`;
    expect(blobPaths.filter((m) => m.path === sharedPath)).toHaveLength(1);
    for (const digest of [...a.blobs.keys(), ...b.blobs.keys()]) {
      const blob = blobPaths.find((m) => m.path === `blobs/sha256/${digest.slice('sha256:'.length)}`);
      expect(blob && sha(blob.content)).toBe(digest);
    }
  });

  it('index.json names the image and the manifest, config and layers are blobs with matching digests', () => {
    const image = ociImage(spec(files));
    const members = new Map(readTar(image.tarball).map((m) => [m.path, m]));
    const blob = (digest: string) => {
      const m = members.get(`blobs/sha256/${digest.slice(7)}`);
      if (!m) throw new Error(`blob ${digest} missing`);
      expect(sha(m.content)).toBe(digest);
      return m.content;
    };
    expect(JSON.parse(members.get('oci-layout')?.content.toString() ?? '')).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    const index = JSON.parse(members.get('index.json')?.content.toString() ?? '');
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations).toEqual({
      'io.containerd.image.name': 'docker.io/reaper/placeholder:v1',
      'org.opencontainers.image.ref.name': 'v1',
    });
    expect(index.manifests[0].digest).toBe(image.manifestDigest);
    const manifest = JSON.parse(blob(image.manifestDigest).toString());
    const config = JSON.parse(blob(manifest.config.digest).toString());
    expect(config.config).toEqual({ Env: ['PATH=/bin'], Cmd: ['sh'] });
    const gz = blob(manifest.layers[0].digest);
    expect(manifest.layers[0].size).toBe(gz.length);
    // gzip header MTIME (bytes 4-7) is zero: the layer digest carries no build time.
    expect(gz.readUInt32LE(4)).toBe(0);
    const layer = gunzipSync(gz);
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [sha(layer)] });

    const inLayer = readTar(layer);
    expect(inLayer.map((m) => m.path)).toEqual([
      'bin/',
      'bin/busybox',
      'bin/sh',
      'deep/',
      `deep/${'x'.repeat(120)}/`,
      `deep/${'x'.repeat(120)}/file`,
      'tmp/',
      'usr/',
      'usr/share/',
      'usr/share/doc/',
      'usr/share/doc/readme',
    ]);
    expect(inLayer.every((m) => m.uid === 0 && m.mtime === 0)).toBe(true);
    const byPath = new Map(inLayer.map((m) => [m.path, m]));
    expect(byPath.get('bin/sh')).toMatchObject({ type: '2', link: '/bin/busybox' });
    expect(byPath.get('tmp/')).toMatchObject({ type: '5', mode: 0o1777 });
    expect(byPath.get(`deep/${'x'.repeat(120)}/file`)?.content.toString()).toBe('long');
    expect(byPath.get('bin/busybox')?.content.equals(Buffer.alloc(3000, 7))).toBe(true);
  });

  it('refuses paths that would leave the image root or appear twice', () => {
    expect(() => tarArchive([{ type: 'dir', path: '../etc', mode: 0o755 }])).toThrow(TarEntryError);
    expect(() => tarArchive([{ type: 'dir', path: '/etc', mode: 0o755 }])).toThrow(TarEntryError);
    expect(() =>
      layerEntries([
        { type: 'dir', path: 'etc', mode: 0o755 },
        { type: 'dir', path: 'etc', mode: 0o700 },
      ]),
    ).toThrow(TarEntryError);
    expect(() =>
      layerEntries([
        { type: 'file', path: 'etc', mode: 0o644, content: Buffer.alloc(0) },
        { type: 'file', path: 'etc/passwd', mode: 0o644, content: Buffer.alloc(0) },
      ]),
    ).toThrow(TarEntryError);
  });
});

describe('normalizeReference', () => {
  it('qualifies names as the CRI does', () => {
    expect(normalizeReference('reaper/placeholder:v1')).toBe('docker.io/reaper/placeholder:v1');
    expect(normalizeReference('busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeReference('localhost/reaper-flow/pause:v1')).toBe('localhost/reaper-flow/pause:v1');
    expect(normalizeReference('registry.k8s.io/pause:3.10')).toBe('registry.k8s.io/pause:3.10');
    expect(normalizeReference('host:5000/app')).toBe('host:5000/app:latest');
  });
});

describe('isStaticElf', () => {
  const elf = (programTypes: number[]) => {
    const buf = Buffer.alloc(64 + programTypes.length * 56);
    buf.writeUInt32BE(0x7f454c46, 0);
    buf[4] = 2;
    buf[5] = 1;
    buf.writeBigUInt64LE(64n, 0x20);
    buf.writeUInt16LE(56, 0x36);
    buf.writeUInt16LE(programTypes.length, 0x38);
    for (const [i, t] of programTypes.entries()) buf.writeUInt32LE(t, 64 + i * 56);
    return buf;
  };
  it('tells a binary with an interpreter from one without', () => {
    expect(isStaticElf(elf([1, 1, 4]))).toBe(true);
    expect(isStaticElf(elf([6, 3, 1]))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });
});
