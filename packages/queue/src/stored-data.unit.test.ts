import { nodeOf } from '@reaper-flow/domain';
import { describe, expect, it } from 'vitest';
import { type DaemonJobSnapshot, decodeInboxEntry, decodeSnapshot, encodeSnapshot } from './stored-data';
import { PREVIOUS_RELEASE_SNAPSHOT } from './stored-data.test-support';

const keys = { snapshot: '{p}:djob:ns/job:snapshot', version: '{p}:djob:ns/job:version' };
const inboxKey = '{p}:djob:ns/job:inbox';

const refusal = (fn: () => unknown): { code?: string; terminal?: boolean; key?: string; message: string } => {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; terminal?: boolean; key?: string; message: string };
  }
  throw new Error('expected a refusal');
};

describe('DaemonJob snapshots read back from Redis', () => {
  it('a snapshot of the previous release (no format version) reads as the current shape', () => {
    const snapshot = decodeSnapshot(PREVIOUS_RELEASE_SNAPSHOT, keys);
    expect(snapshot).toEqual(JSON.parse(PREVIOUS_RELEASE_SNAPSHOT));
    expect(nodeOf(snapshot.state.domain, 'constructor')?.attempt).toBe(2);
  });

  it('what this release writes carries its format version and reads back unchanged', () => {
    const snapshot: DaemonJobSnapshot = decodeSnapshot(PREVIOUS_RELEASE_SNAPSHOT, keys);
    const text = encodeSnapshot(snapshot);
    expect(JSON.parse(text)).toMatchObject({ v: 1 });
    expect(decodeSnapshot(text, keys)).toEqual(snapshot);
  });

  it('a snapshot in a newer format is refused, naming the key, the version and what to do', () => {
    const newer = JSON.stringify({ ...JSON.parse(PREVIOUS_RELEASE_SNAPSHOT), v: 2 });
    const err = refusal(() => decodeSnapshot(newer, keys));
    expect(err).toMatchObject({ code: 'queue.UnreadableStoredData', terminal: true, key: keys.snapshot });
    expect(err.message).toContain(keys.snapshot);
    expect(err.message).toContain('format version 2, newer than this reaper-flow reads (1)');
    expect(err.message).toContain('Run that version on every scheduler');
  });

  it('a snapshot that is not JSON, or not a snapshot, is refused with its key, the bad fields and the way out', () => {
    const notJson = refusal(() => decodeSnapshot('{"state": tru', keys));
    expect(notJson.message).toMatch(/^DaemonJob snapshot \{p\}:djob:ns\/job:snapshot is not JSON/);
    expect(notJson.message).toContain(`delete ${keys.snapshot} and ${keys.version}`);

    const old = JSON.parse(PREVIOUS_RELEASE_SNAPSHOT);
    old.state.domain.nodes['node-a'].phase = 'Exploded';
    delete old.uid;
    const wrong = refusal(() => decodeSnapshot(JSON.stringify(old), keys));
    expect(wrong).toMatchObject({ code: 'queue.UnreadableStoredData', terminal: true });
    expect(wrong.message).toContain('state.domain.nodes.node-a.phase');
    expect(wrong.message).toContain('uid: required field is missing');
    expect(wrong.message).toContain(`delete ${keys.snapshot} and ${keys.version}`);

    const unknownVersion = refusal(() => decodeSnapshot(JSON.stringify({ ...old, v: 'one' }), keys));
    expect(unknownVersion.message).toContain('format version "one", which no reaper-flow writes');
  });
});

describe('DaemonJob inbox entries read back from Redis', () => {
  const start = {
    type: 'StartNodeRun',
    runId: 'r1',
    node: 'n1',
    attempt: 1,
    reaperPodName: 'job-n1',
    at: '2026-01-01T00:00:00.000Z',
  };

  it('a command of the previous release (no format version) and one of this release read the same', () => {
    expect(decodeInboxEntry('1-0', JSON.stringify(start), inboxKey)).toEqual({ id: '1-0', command: start });
    expect(decodeInboxEntry('2-0', JSON.stringify({ v: 1, ...start }), inboxKey)).toEqual({
      id: '2-0',
      command: start,
    });
  });

  it('a command in a newer format is held back, not skipped', () => {
    const entry = decodeInboxEntry('3-0', JSON.stringify({ v: 2, ...start }), inboxKey);
    expect(entry).toMatchObject({ id: '3-0', newer: true });
    expect('refused' in entry && entry.refused.message).toBe(
      `inbox entry 3-0 of ${inboxKey}: format version 2, newer than this reaper-flow reads (1). ` +
        "The job's inbox is folded up to it and waits for a scheduler of that version (finish the upgrade so every scheduler runs it).",
    );
  });

  it('garbage is refused and skipped, naming the entry, the key and what was wrong', () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'no command field'],
      ['{not json', 'not JSON'],
      [JSON.stringify({ ...start, attempt: 0 }), 'attempt:'],
      [JSON.stringify({ ...start, v: 0 }), 'v: not a format version (got 0)'],
    ];
    for (const [text, found] of cases) {
      const entry = decodeInboxEntry('4-0', text, inboxKey);
      expect(entry).toMatchObject({ id: '4-0', newer: false });
      const message = 'refused' in entry ? entry.refused.message : '';
      expect(message).toContain(`inbox entry 4-0 of ${inboxKey} refused: ${found}`);
      expect(message).toContain('It is skipped');
    }
  });
});
