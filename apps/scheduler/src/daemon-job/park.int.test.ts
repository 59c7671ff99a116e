// The wake-before-park race of a node-run, on real Redis and real BullMQ: a ReaperPod that changes
// while its node-run is still running (a fast command) cannot promote a job that is not delayed
// yet, so RunFlows.wake leaves a flag that park() serves right after it parks. The watchdog here is
// ten minutes: a node-run that runs again within the test's seconds was woken, not timed out.
import { randomUUID } from 'node:crypto';
import { createRedis, type NodeRunData, NodeRunDataSchema, QueueNames, RunFlows } from '@reaper-flow/queue';
import { testEnv, waitFor } from '@reaper-flow/test';
import { DelayedError, type Job, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { park } from './node-run';

const FAR = 600_000;

describe('parking a node-run against a wake that came first', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** A run of one node whose node-run step is `step` (called with the flows and how often it ran). */
  async function runWith(
    step: (flows: RunFlows, job: Job, token: string | undefined, runs: number) => Promise<unknown>,
  ) {
    const prefix = `{rf-park-${randomUUID().slice(0, 8)}}`;
    const redis = createRedis({ url: testEnv().redisUrl }, 'worker');
    const flows = new RunFlows(redis, {
      prefix,
      retention: { removeOnComplete: 100, removeOnFail: 100 },
      stepAttempts: 3,
      stepBackoffMs: 100,
    });
    let runs = 0;
    const worker = new Worker(
      QueueNames.nodeRuns,
      async (job: Job, token?: string) => {
        runs += 1;
        return step(flows, job, token, runs);
      },
      { connection: redis, prefix },
    );
    worker.on('error', () => undefined);
    closers.push(async () => {
      await worker.close();
      await flows.close();
      redis.disconnect();
    });
    await flows.addRun({ namespace: 'ns', job: 'j', jobUid: 'uid-1', runId: 'r1', generation: 1 }, ['n1']);
    return { flows, runs: () => runs };
  }
  const dataOf = (job: Job): NodeRunData => NodeRunDataSchema.parse(job.data);

  it('a wake while the step runs is served by park at once', { timeout: 20_000 }, async () => {
    let woke: boolean | undefined;
    const run = await runWith(async (flows, job, token, runs) => {
      if (runs > 1) return { woken: true };
      // The job is active: nothing to promote, so the wake is left as a flag.
      woke = await flows.wake('ns', 'j', 'r1', 'n1');
      return park({ flows }, job, token, Date.now() + FAR, dataOf(job));
    });
    await waitFor(() => run.runs() === 2, { description: 'the node-run ran again', timeoutMs: 10_000 });
    expect(woke).toBe(false);
    // The flag was consumed by park: nothing is left for the sweep to serve.
    expect(await run.flows.serveLeftWakes()).toBe(0);
  });

  it('a wake after the step parked promotes it', { timeout: 20_000 }, async () => {
    const run = await runWith(async (flows, job, token, runs) =>
      runs > 1 ? { woken: true } : park({ flows }, job, token, Date.now() + FAR, dataOf(job)),
    );
    const parked = await waitFor(async () => (await run.flows.nodeRuns.getDelayed()).length === 1, {
      description: 'the node-run parked',
      timeoutMs: 10_000,
    });
    expect(parked).toBe(true);
    expect(await run.flows.wake('ns', 'j', 'r1', 'n1')).toBe(true);
    await waitFor(() => run.runs() === 2, { description: 'the node-run ran again', timeoutMs: 10_000 });
  });

  it('a flag left by a scheduler that died between parking and reading it is served by the sweep', {
    timeout: 20_000,
  }, async () => {
    const run = await runWith(async (flows, job, token, runs) => {
      if (runs > 1) return { woken: true };
      await flows.wake('ns', 'j', 'r1', 'n1');
      // Parked without reading the flag: the process died right after moveToDelayed.
      await job.moveToDelayed(Date.now() + FAR, token);
      throw new DelayedError();
    });
    await waitFor(async () => (await run.flows.nodeRuns.getDelayed()).length === 1, {
      description: 'the node-run parked with its flag left',
      timeoutMs: 10_000,
    });
    expect(run.runs()).toBe(1);
    expect(await run.flows.serveLeftWakes()).toBe(1);
    await waitFor(() => run.runs() === 2, { description: 'the node-run ran again', timeoutMs: 10_000 });
  });
});
