import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OverlayJob } from '@reaper-flow/domain';
import { ApiError } from '@reaper-flow/k8s';
import { createLogger } from '@reaper-flow/runtime';
import { UnrecoverableError } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex';
import { OverlayDisk } from './overlay-disk';
import { processOverlayJob } from './overlay-processor';
import { type OverlayNodeReport, type OverlayStatusPort, overlayStatusApplyBody } from './status-reporter';

const UID = '6a3c1f1e-0000-4000-8000-000000000001';

/** An API stand-in: one object (or none) and the entries this node reported on it. */
class FakeStatus implements OverlayStatusPort {
  uid: string | undefined = UID;
  failWith: Error | undefined;
  readonly reports: OverlayNodeReport[] = [];
  readonly calls: string[] = [];

  async currentUid(): Promise<string | undefined> {
    this.calls.push('get');
    if (this.failWith) throw this.failWith;
    return this.uid;
  }

  async report(_ns: string, _name: string, entry: OverlayNodeReport): Promise<'written' | 'gone'> {
    this.calls.push('apply');
    if (this.uid === undefined) return 'gone';
    this.reports.push(entry);
    return 'written';
  }
}

let base: string;
let disk: OverlayDisk;
let status: FakeStatus;
const logger = createLogger('node-agent-test', 'silent');
const job = (over: Partial<OverlayJob> = {}): OverlayJob => ({
  op: 'ensure',
  namespace: 'team-a',
  name: 'slurm',
  uid: UID,
  generation: 1,
  requestId: 'gen-1',
  ...over,
});
let order: KeyedMutex;
const run = (data: unknown) => processOverlayJob(data, { disk, status, logger, order });

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'node-agent-proc-'));
  disk = await OverlayDisk.open(join(base, 'state'), { now: () => new Date('2030-05-06T07:08:09.000Z') });
  status = new FakeStatus();
  order = new KeyedMutex();
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('processOverlayJob', () => {
  it('a payload that is not an overlay job fails for good', async () => {
    await expect(run({ op: 'explode', namespace: 'x' })).rejects.toBeInstanceOf(UnrecoverableError);
    expect(status.calls).toEqual([]);
  });

  it('an invalid name fails for good before any API call, with a message naming it', async () => {
    const err = await run(job({ namespace: '../etc' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(
      /agent.InvalidOverlayName: overlay namespace "\.\.\/etc" is not a DNS-1123 label/,
    );
    expect(status.calls).toEqual([]);
  });

  it('ensure reports the node ready at the job generation', async () => {
    await expect(run(job({ generation: 4 }))).resolves.toMatchObject({ result: 'applied', reported: true });
    expect(status.reports).toEqual([{ ready: true, resetGeneration: 4, lastResetTime: undefined }]);
  });

  it('an ensure or reset for an older incarnation is skipped and touches nothing', async () => {
    status.uid = 'a-newer-incarnation';
    await expect(run(job())).resolves.toMatchObject({ result: 'skipped', reported: false });
    await expect(run(job({ op: 'reset' }))).resolves.toMatchObject({ result: 'skipped' });
    expect(await disk.dir.inspect(disk.paths('team-a', 'slurm').overlayDir)).toBeUndefined();
    expect(status.reports).toEqual([]);
  });

  it('reset reports ready, the generation and the reset time; a redelivery reports the same', async () => {
    await run(job());
    await expect(run(job({ op: 'reset', generation: 2, requestId: 'gen-2' }))).resolves.toMatchObject({
      result: 'applied',
    });
    await expect(run(job({ op: 'reset', generation: 2, requestId: 'gen-2' }))).resolves.toMatchObject({
      result: 'already-applied',
      reported: true,
    });
    const expected = { ready: true, resetGeneration: 2, lastResetTime: '2030-05-06T07:08:09.000Z' };
    expect(status.reports.slice(1)).toEqual([expected, expected]);
  });

  it('an ensure after a reset keeps reporting the reset time (apply would drop it otherwise)', async () => {
    await run(job({ op: 'reset', generation: 2, requestId: 'gen-2' }));
    await run(job({ generation: 2 }));
    expect(status.reports.at(-1)).toEqual({
      ready: true,
      resetGeneration: 2,
      lastResetTime: '2030-05-06T07:08:09.000Z',
    });
  });

  it('delete reports cleaned; when the overlay is already gone it cleans the disk and skips the report', async () => {
    await run(job());
    await expect(run(job({ op: 'delete' }))).resolves.toMatchObject({ result: 'applied', reported: true });
    expect(status.reports.at(-1)).toEqual({
      ready: false,
      cleaned: true,
      resetGeneration: 1,
      message: 'overlay data removed',
    });
    await run(job());
    status.uid = undefined;
    await expect(run(job({ op: 'delete' }))).resolves.toMatchObject({ result: 'applied', reported: false });
    expect(await disk.dir.inspect(disk.paths('team-a', 'slurm').overlayDir)).toBeUndefined();
  });

  it('an unsafe path fails for good and the node entry says why', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'keep'), 'x');
    await mkdir(join(base, 'state', 'overlay'), { recursive: true });
    await symlink(outside, join(base, 'state', 'overlay', 'team-a'));
    await expect(run(job({ op: 'reset' }))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(status.reports).toEqual([
      expect.objectContaining({ ready: false, message: expect.stringMatching(/^reset failed: .*symlink/) }),
    ]);
  });

  it('a transient failure on the last attempt is reported on the node entry and thrown for BullMQ', async () => {
    await disk.ensure(job());
    const p = disk.paths('team-a', 'slurm');
    // Something still mounted below the overlay: not removable now, maybe later.
    const busy = Object.assign(new Error(`cannot remove ${p.upperDir}: still mounted`), {
      code: 'agent.OverlayBusy',
    });
    // The real disk, except that reset fails the way a busy mount makes it fail.
    const failing = Object.create(disk) as OverlayDisk;
    failing.reset = async () => {
      throw busy;
    };
    const attempt = (finalAttempt: boolean) =>
      processOverlayJob(job({ op: 'reset', generation: 2, requestId: 'gen-2' }), {
        disk: failing,
        status,
        logger,
        finalAttempt,
        order,
      });
    await expect(attempt(false)).rejects.toBe(busy);
    expect(status.reports).toEqual([]);
    await expect(attempt(true)).rejects.toBe(busy);
    expect(status.reports).toEqual([
      {
        ready: false,
        resetGeneration: 1,
        lastResetTime: undefined,
        message: `reset failed: ${busy.message}`,
      },
    ]);
  });

  it('a transient API error is thrown as is, so BullMQ retries the job', async () => {
    status.failWith = new ApiError('ServerError', 503, 'etcd leader changed');
    const err = await run(job()).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(UnrecoverableError);
    expect(err).toMatchObject({ code: 'ServerError' });
  });
  it("an ensure's slow report cannot land after the next reset's: the entry ends at the reset's generation", async () => {
    // The API server keeps what reaches it last. The ensure's report (generation 1) is held in flight
    // until the reset job is either waiting its turn or has reported (generation 2) past it.
    let ensureInFlight: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (ensureInFlight = resolve));
    let releaseEnsure: () => void = () => undefined;
    const landed: number[] = [];
    const api = new FakeStatus();
    api.report = async (_ns, _name, entry) => {
      if (entry.resetGeneration === 1) {
        await new Promise<void>((resolve) => {
          releaseEnsure = resolve;
          ensureInFlight();
        });
      }
      landed.push(entry.resetGeneration);
      return 'written';
    };
    let queued = 0;
    const counting = new KeyedMutex();
    const run = counting.run.bind(counting);
    counting.run = (key, task) => {
      queued += 1;
      return run(key, task);
    };
    const deps = { disk, status: api, logger, order: counting };
    const ensure = processOverlayJob(job({ generation: 1 }), deps);
    await inFlight;
    const reset = processOverlayJob(job({ op: 'reset', generation: 2, requestId: 'gen-2' }), deps);
    while (queued < 2 && !landed.includes(2)) await new Promise((r) => setImmediate(r));
    releaseEnsure();
    await Promise.all([ensure, reset]);
    expect(landed).toEqual([1, 2]);
  });
});

describe('overlayStatusApplyBody', () => {
  it('states exactly this node entry of status.nodes', () => {
    expect(
      overlayStatusApplyBody('team-a', 'slurm', 'node-7', {
        ready: false,
        resetGeneration: 3,
        cleaned: true,
        message: 'overlay data removed',
      }),
    ).toEqual({
      apiVersion: 'reaper.io/v1alpha1',
      kind: 'ReaperOverlay',
      metadata: { name: 'slurm', namespace: 'team-a' },
      status: {
        nodes: [
          {
            nodeName: 'node-7',
            ready: false,
            resetGeneration: 3,
            cleaned: true,
            message: 'overlay data removed',
          },
        ],
      },
    });
  });
});
