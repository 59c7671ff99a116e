import { describe, expect, it } from 'vitest';
import { encodeInboxCommand, INBOX_COMMAND_VERSION, parseInboxCommand } from './inbox-command';

const start = {
  type: 'StartNodeRun',
  runId: 'r1',
  node: 'n1',
  attempt: 1,
  reaperPodName: 'job-n1',
  at: '2026-01-01T00:00:00.000Z',
};

describe('parseInboxCommand', () => {
  it('accepts what node-run workers write', () => {
    expect(parseInboxCommand(start)).toEqual({ ok: true, value: start });
    const finish = { ...start, type: 'FinishNodeRun', outcome: 'Failed', exitCode: 1, retryAt: 5 };
    const { reaperPodName: _unused, ...withoutPod } = finish;
    expect(parseInboxCommand(withoutPod)).toMatchObject({ ok: true });
  });

  it('rejects an unknown type, naming the field', () => {
    const r = parseInboxCommand({ ...start, type: 'TriggerRun' });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues).toEqual([expect.stringMatching(/^type: /)]);
  });

  it('rejects the right type with wrong fields, naming each', () => {
    const r = parseInboxCommand({ type: 'FinishNodeRun', runId: 'r1', node: 'n1', attempt: 0, at: 'now' });
    expect(r.ok ? [] : r.issues.map((i) => i.split(':')[0])).toEqual(['attempt', 'outcome', 'at']);
  });

  it('rejects what is not an object', () => {
    for (const raw of [null, 'StartNodeRun', 42, []]) expect(parseInboxCommand(raw).ok).toBe(false);
  });
});

describe('inbox command format versions', () => {
  it('writes the current version and reads it back as the command', () => {
    const command = { ...start, type: 'StartNodeRun' as const };
    const written = encodeInboxCommand(command);
    expect(written.v).toBe(INBOX_COMMAND_VERSION);
    expect(parseInboxCommand(JSON.parse(JSON.stringify(written)))).toEqual({ ok: true, value: start });
  });

  it('reads a command without a version (the previous release) as the current shape', () => {
    expect(parseInboxCommand(start)).toEqual({ ok: true, value: start });
  });

  it('refuses a newer version, saying which, and a version that is not one', () => {
    expect(parseInboxCommand({ ...start, v: 2 })).toEqual({
      ok: false,
      newer: 2,
      issues: ['v: format version 2 is newer than this reaper-flow reads (1)'],
    });
    expect(parseInboxCommand({ ...start, v: '1' })).toEqual({
      ok: false,
      issues: ['v: not a format version (got "1")'],
    });
  });
});
