import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readGenerationRecord } from './generation-record';
import { OverlayDisk } from './overlay-disk';

const UID = '0b0e9b7a-1111-4c2d-9e8f-000000000001';
const OTHER_UID = '0b0e9b7a-2222-4c2d-9e8f-000000000002';

let base: string;
let stateDir: string;
let outside: string;
let disk: OverlayDisk;
const children: ChildProcess[] = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'node-agent-disk-'));
  stateDir = join(base, 'state');
  outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'precious.txt'), 'do not touch');
  disk = await OverlayDisk.open(stateDir, {
    now: () => new Date('2030-01-02T03:04:05.000Z'),
    lock: { waitMs: 300, pollMs: 20 },
    helper: { termGraceMs: 2_000, killGraceMs: 2_000 },
  });
});

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(base, { recursive: true, force: true });
});

const target = (generation = 0) => ({ namespace: 'team-a', name: 'slurm', uid: UID, generation });
const reset = (generation: number, requestId = `gen-${generation}`) => ({ ...target(generation), requestId });
const p = () => disk.paths('team-a', 'slurm');

/** Files and dirs below `dir`, relative, sorted (what "the state of the world" is here). */
async function tree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

async function outsideIntact(): Promise<void> {
  expect(await readFile(join(outside, 'precious.txt'), 'utf8')).toBe('do not touch');
  expect(await tree(outside)).toEqual(['precious.txt']);
}

function spawnHelper(): ChildProcess {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function fillOverlay(): Promise<void> {
  await disk.ensure(target());
  await writeFile(join(p().upperDir, 'installed.bin'), 'data');
  await mkdir(join(p().workDir, 'work'), { recursive: true });
  await writeFile(join(p().workDir, 'work', 'tmp'), 'x');
  await writeFile(join(p().mergedDir, 'view'), 'x');
}

describe('ensure', () => {
  it('creates upper, work and merged, and running it again changes nothing', async () => {
    const first = await disk.ensure(target(2));
    expect(first).toEqual({ created: true, generation: 2, resetAt: undefined });
    await writeFile(join(p().upperDir, 'keep'), 'kept');
    const before = await tree(stateDir);
    const second = await disk.ensure(target(2));
    expect(second).toEqual({ created: false, generation: 2, resetAt: undefined });
    expect(await tree(stateDir)).toEqual(before);
    expect(before).toEqual([
      'merged',
      'merged/team-a',
      'merged/team-a/slurm',
      'overlay',
      'overlay/team-a',
      'overlay/team-a/slurm',
      'overlay/team-a/slurm/.reaper-generation',
      'overlay/team-a/slurm/upper',
      'overlay/team-a/slurm/upper/keep',
      'overlay/team-a/slurm/work',
    ]);
  });

  it('reports the generation the data is at, not a later one it was never reset to', async () => {
    await disk.reset(reset(1));
    expect(await disk.ensure(target(3))).toMatchObject({ created: false, generation: 1 });
  });
});

describe('path safety', () => {
  it.each([
    ['../etc', 'slurm'],
    ['team-a', '../../etc'],
    ['team-a', 'a/b'],
    ['a/../../..', 'x'],
  ])('refuses namespace %j / name %j and touches nothing', async (namespace, name) => {
    const job = { namespace, name, uid: UID, generation: 1, requestId: 'gen-1' };
    await expect(disk.ensure(job)).rejects.toMatchObject({ code: 'agent.InvalidOverlayName' });
    await expect(disk.reset(job)).rejects.toMatchObject({ code: 'agent.InvalidOverlayName' });
    await expect(disk.remove(job)).rejects.toMatchObject({ code: 'agent.InvalidOverlayName' });
    expect(await tree(stateDir)).toEqual([]);
    await outsideIntact();
  });

  it('a symlinked namespace dir pointing outside is refused and the outside file survives', async () => {
    await mkdir(join(stateDir, 'overlay'), { recursive: true });
    await symlink(outside, join(stateDir, 'overlay', 'team-a'));
    await expect(disk.ensure(target())).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await expect(disk.reset(reset(1))).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await expect(disk.remove(target())).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await outsideIntact();
    expect((await lstat(join(stateDir, 'overlay', 'team-a'))).isSymbolicLink()).toBe(true);
  });

  it('a symlinked overlay dir pointing outside is neither emptied nor removed', async () => {
    await mkdir(join(outside, 'upper'));
    await mkdir(join(outside, 'work'));
    await writeFile(join(outside, 'upper', 'host-file'), 'host');
    await mkdir(join(stateDir, 'overlay', 'team-a'), { recursive: true });
    await symlink(outside, join(stateDir, 'overlay', 'team-a', 'slurm'));
    await expect(disk.reset(reset(1))).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await expect(disk.remove(target())).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    expect(await readFile(join(outside, 'upper', 'host-file'), 'utf8')).toBe('host');
    expect(await readFile(join(outside, 'precious.txt'), 'utf8')).toBe('do not touch');
  });

  it('a symlinked merged dir pointing outside is refused on delete and the outside file survives', async () => {
    await disk.ensure(target());
    await rm(p().mergedDir, { recursive: true });
    await symlink(outside, p().mergedDir);
    await expect(disk.remove(target())).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await outsideIntact();
  });

  it('a lock file symlinked to a file outside is refused, and the file keeps its content', async () => {
    await symlink(join(outside, 'precious.txt'), p().lockFile);
    await expect(disk.reset(reset(1))).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await outsideIntact();
  });

  it('a helper pid file symlinked outside is refused and not removed through the link', async () => {
    await disk.ensure(target());
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    await symlink(join(outside, 'precious.txt'), p().helperPidFile);
    await expect(disk.remove(target())).rejects.toMatchObject({ code: 'agent.UnsafePath' });
    await outsideIntact();
  });

  it('refuses the filesystem root as state dir', async () => {
    await expect(OverlayDisk.open('/')).rejects.toMatchObject({ code: 'agent.UnsafePath' });
  });
});

describe('reset', () => {
  it('clears upper, work and merged and records the generation', async () => {
    await fillOverlay();
    const result = await disk.reset(reset(3));
    expect(result).toMatchObject({ applied: true, generation: 3, resetAt: '2030-01-02T03:04:05.000Z' });
    expect(await tree(join(stateDir, 'overlay'))).toEqual([
      'team-a',
      'team-a/slurm',
      'team-a/slurm/.reaper-generation',
      'team-a/slurm/upper',
      'team-a/slurm/work',
    ]);
    expect(await tree(p().mergedDir)).toEqual([]);
    expect(await readGenerationRecord(disk.dir, p().generationFile)).toEqual({
      uid: UID,
      generation: 3,
      requestIds: ['gen-3'],
      resetAt: '2030-01-02T03:04:05.000Z',
    });
    expect(existsSync(p().lockFile)).toBe(false);
  });

  it('a redelivered reset is a no-op and keeps data written since the first delivery', async () => {
    await fillOverlay();
    await disk.reset(reset(3));
    await writeFile(join(p().upperDir, 'written-after-reset'), 'new');
    const again = await disk.reset(reset(3));
    expect(again).toEqual({ applied: false, generation: 3, resetAt: '2030-01-02T03:04:05.000Z' });
    expect(await readFile(join(p().upperDir, 'written-after-reset'), 'utf8')).toBe('new');
  });

  it('a reset for an older generation than the one applied is a no-op', async () => {
    await disk.reset(reset(5));
    await writeFile(join(p().upperDir, 'data'), 'x');
    expect(await disk.reset(reset(4))).toMatchObject({ applied: false, generation: 5 });
    expect(existsSync(join(p().upperDir, 'data'))).toBe(true);
  });

  it('a new request at the same generation (a policy reset) resets again', async () => {
    await disk.reset(reset(2));
    await writeFile(join(p().upperDir, 'data'), 'x');
    expect(await disk.reset(reset(2, 'pod-uid-1'))).toMatchObject({ applied: true, generation: 2 });
    expect(existsSync(join(p().upperDir, 'data'))).toBe(false);
    expect((await disk.readRecord('team-a', 'slurm'))?.requestIds).toEqual(['gen-2', 'pod-uid-1']);
  });

  it('kills the namespace helper named in the pid file and removes the pid file and ns file', async () => {
    await fillOverlay();
    const helper = spawnHelper();
    const exited = once(helper, 'exit');
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    await writeFile(p().helperPidFile, `${helper.pid}\n`);
    await writeFile(p().nsFile, '');
    const result = await disk.reset(reset(1));
    expect(result.helper).toBe('terminated');
    const [, signal] = await exited;
    expect(signal).toBe('SIGTERM');
    expect(existsSync(p().helperPidFile)).toBe(false);
    expect(existsSync(p().nsFile)).toBe(false);
  });

  it('escalates to SIGKILL when the helper ignores SIGTERM', async () => {
    const stubborn = spawn('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(stubborn);
    await once(stubborn.stdout as NodeJS.ReadableStream, 'data');
    const exited = once(stubborn, 'exit');
    const fast = await OverlayDisk.open(stateDir, { helper: { termGraceMs: 200, killGraceMs: 2_000 } });
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    await writeFile(p().helperPidFile, String(stubborn.pid));
    const result = await fast.reset(reset(1));
    expect(result.helper).toBe('killed');
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
  });

  it('does not kill a process whose pid was reused after the pid file was written', async () => {
    const unrelated = spawnHelper();
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    await writeFile(p().helperPidFile, String(unrelated.pid));
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(p().helperPidFile, anHourAgo, anHourAgo);
    const result = await disk.reset(reset(1));
    expect(result.helper).toBe('pid-reused');
    expect(unrelated.exitCode).toBeNull();
    expect(unrelated.signalCode).toBeNull();
    expect(existsSync(p().helperPidFile)).toBe(false);
  });

  it('never signals pid 1 or its own process group from a pid file', async () => {
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    for (const text of ['1', '0', '-1', 'garbage', '', String(process.pid)]) {
      await writeFile(p().helperPidFile, text);
      const result = await disk.reset(reset(1, `req-${text || 'empty'}`));
      expect(result.helper).toBe('no-pid');
    }
  });
});

describe('delete', () => {
  it('removes the overlay and merged dirs, the ns and pid files and the lock, killing the helper', async () => {
    await fillOverlay();
    const helper = spawnHelper();
    const exited = once(helper, 'exit');
    await mkdir(join(stateDir, 'ns'), { recursive: true });
    await writeFile(p().helperPidFile, String(helper.pid));
    await writeFile(p().nsFile, '');
    // A lock left behind by a runtime that crashed (its pid is gone): broken, then removed.
    await writeFile(p().lockFile, JSON.stringify({ pid: 2 ** 22 + 7 }));
    const result = await disk.remove(target());
    expect(result).toEqual({ removed: true, helper: 'terminated' });
    await exited;
    expect(await tree(stateDir)).toEqual(['merged', 'merged/team-a', 'ns', 'overlay', 'overlay/team-a']);
  });

  it('is idempotent: deleting a deleted overlay succeeds and changes nothing', async () => {
    await fillOverlay();
    await disk.remove(target());
    const before = await tree(stateDir);
    expect(await disk.remove(target())).toEqual({ removed: true, helper: undefined });
    expect(await tree(stateDir)).toEqual(before);
  });

  it('leaves alone data that a newer incarnation of the same name already ensured', async () => {
    await disk.ensure({ ...target(), uid: OTHER_UID });
    await writeFile(join(p().upperDir, 'new-incarnation'), 'x');
    expect(await disk.remove(target())).toEqual({ removed: false });
    expect(existsSync(join(p().upperDir, 'new-incarnation'))).toBe(true);
  });
});

describe('lock', () => {
  it('waits for a live holder and gives up with OverlayLocked', async () => {
    const holder = spawnHelper();
    await writeFile(p().lockFile, JSON.stringify({ pid: holder.pid }));
    await expect(disk.reset(reset(1))).rejects.toMatchObject({ code: 'agent.OverlayLocked' });
    expect(await readFile(p().lockFile, 'utf8')).toBe(JSON.stringify({ pid: holder.pid }));
  });

  it('takes the lock as soon as a live holder releases it', async () => {
    const holder = spawnHelper();
    await writeFile(p().lockFile, JSON.stringify({ pid: holder.pid }));
    const patient = await OverlayDisk.open(stateDir, { lock: { waitMs: 10_000, pollMs: 20 } });
    const pending = patient.ensure(target());
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(p().upperDir)).toBe(false);
    await rm(p().lockFile);
    await expect(pending).resolves.toMatchObject({ created: true });
  });

  it('an abort while waiting for the lock stops the wait and leaves the holder its lock', async () => {
    const holder = spawnHelper();
    await writeFile(p().lockFile, JSON.stringify({ pid: holder.pid }));
    const patient = await OverlayDisk.open(stateDir, { lock: { waitMs: 30_000, pollMs: 20 } });
    const stop = new AbortController();
    const pending = patient.reset(reset(1), { signal: stop.signal });
    stop.abort(new Error('agent stopping'));
    await expect(pending).rejects.toThrow('agent stopping');
    expect(await readFile(p().lockFile, 'utf8')).toBe(JSON.stringify({ pid: holder.pid }));
    expect(existsSync(p().overlayDir)).toBe(false);
  });

  it('breaks a lock older than the stale limit even if its holder looks alive', async () => {
    const holder = spawnHelper();
    await writeFile(p().lockFile, JSON.stringify({ pid: holder.pid }));
    const old = new Date(Date.now() - 11 * 60_000);
    await utimes(p().lockFile, old, old);
    await expect(disk.ensure(target())).resolves.toMatchObject({ created: true });
    expect(existsSync(p().lockFile)).toBe(false);
  });

  it('breaks a lock of our own pid left by an earlier instance of the agent', async () => {
    await writeFile(p().lockFile, JSON.stringify({ pid: process.pid, instance: 'an-earlier-run' }));
    await expect(disk.ensure(target())).resolves.toMatchObject({ created: true });
  });

  it('serialises operations on the same overlay inside one agent', async () => {
    await fillOverlay();
    const results = await Promise.all([disk.reset(reset(1)), disk.remove(target()), disk.ensure(target(1))]);
    expect(results[0]).toMatchObject({ applied: true });
    expect(results[1]).toMatchObject({ removed: true });
    expect(results[2]).toMatchObject({ created: true });
    expect(await tree(p().overlayDir)).toEqual(['.reaper-generation', 'upper', 'work']);
  });
});
