import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';
import { type StopStep, stopOnSignals } from './shutdown';

function harness(deadlineMs: number) {
  const lines: { msg: string; step?: string; signal?: string }[] = [];
  const logger = createLogger('shutdown-test', 'info', { write: (line) => lines.push(JSON.parse(line)) });
  const exits: number[] = [];
  let exited: (code: number) => void = () => {};
  const exitedWith = new Promise<number>((resolve) => {
    exited = resolve;
  });
  const exit = (code: number) => {
    exits.push(code);
    exited(code);
  };
  return {
    lines,
    exits,
    exitedWith,
    start: (steps: StopStep[]) => stopOnSignals(steps, { logger, deadlineMs, signals: [], exit }),
  };
}

describe('stopOnSignals', () => {
  it('runs the steps in order, goes on past one that fails, and exits 0', async () => {
    const h = harness(5_000);
    const ran: string[] = [];
    const shutdown = h.start([
      { name: 'first', run: async () => void ran.push('first') },
      {
        name: 'broken',
        run: () => {
          ran.push('broken');
          throw new Error('boom');
        },
      },
      { name: 'last', run: () => void ran.push('last') },
    ]);
    await shutdown.stop('SIGTERM');
    expect(ran).toEqual(['first', 'broken', 'last']);
    expect(h.exits).toEqual([0]);
    expect(h.lines.map((l) => [l.msg, l.step ?? l.signal])).toEqual([
      ['stopping', 'SIGTERM'],
      ['error while stopping', 'broken'],
    ]);
  });

  it('a second signal does not run the steps again', async () => {
    const h = harness(5_000);
    const ran: string[] = [];
    const shutdown = h.start([{ name: 'once', run: () => void ran.push('once') }]);
    await Promise.all([shutdown.stop('SIGTERM'), shutdown.stop('SIGINT')]);
    expect(ran).toEqual(['once']);
    expect(h.exits).toEqual([0]);
  });

  it('a step past its own timeout is left behind and the next step still runs', async () => {
    const h = harness(5_000);
    const ran: string[] = [];
    const shutdown = h.start([
      { name: 'stuck', run: () => new Promise(() => {}), timeoutMs: 20 },
      { name: 'after', run: () => void ran.push('after') },
    ]);
    await shutdown.stop('SIGTERM');
    expect(ran).toEqual(['after']);
    expect(h.exits).toEqual([0]);
    expect(h.lines.map((l) => [l.msg, l.step])).toContainEqual([
      'a stop step did not finish in time; going on',
      'stuck',
    ]);
  });

  it('a stop that outlives the deadline exits 0 with an error line', async () => {
    const h = harness(50);
    const ran: string[] = [];
    const shutdown = h.start([
      { name: 'hangs', run: () => new Promise(() => {}) },
      { name: 'never', run: () => void ran.push('never') },
    ]);
    void shutdown.stop('SIGTERM');
    expect(await h.exitedWith).toBe(0);
    expect(ran).toEqual([]);
    expect(h.lines.map((l) => l.msg)).toContain('did not stop within 0.05 s; exiting anyway');
  });
});
