import { describe, expect, it } from 'vitest';
import { OwnStatusWrites } from './own-status-writes';

const obj = (rv: string, phase: string, uid = 'u1') => ({
  metadata: { uid, resourceVersion: rv },
  status: { phase },
});

describe('OwnStatusWrites', () => {
  it('a world that still shows the version a write was based on gets the written status', () => {
    const own = new OwnStatusWrites();
    own.remember(obj('5', 'Pending'), obj('6', 'Running'));
    expect(own.freshest(obj('5', 'Pending'))).toEqual(obj('5', 'Running'));
  });

  it('a world that caught up with the write (or passed it) is used as it is, and the entry dropped', () => {
    const own = new OwnStatusWrites();
    own.remember(obj('5', 'Pending'), obj('6', 'Running'));
    expect(own.freshest(obj('6', 'Running'))).toEqual(obj('6', 'Running'));
    expect(own.size).toBe(0);
    own.remember(obj('6', 'Running'), obj('7', 'Succeeded'));
    // Someone else wrote after us: the world shows their version, not ours.
    expect(own.freshest(obj('8', 'Failed'))).toEqual(obj('8', 'Failed'));
    expect(own.freshest(obj('6', 'Running'))).toEqual(obj('6', 'Running'));
  });

  it('writes chained while the world lags are all older than the last one', () => {
    const own = new OwnStatusWrites();
    own.remember(obj('5', 'Pending'), obj('6', 'Running'));
    // The second write was computed against the first write's status, on the world's version 5.
    own.remember(own.freshest(obj('5', 'Pending')), obj('7', 'Succeeded'));
    expect(own.freshest(obj('5', 'Pending')).status).toEqual({ phase: 'Succeeded' });
    expect(own.freshest(obj('6', 'Running')).status).toEqual({ phase: 'Succeeded' });
    expect(own.freshest(obj('7', 'Succeeded')).status).toEqual({ phase: 'Succeeded' });
    expect(own.size).toBe(0);
  });

  it('another uid of the same name (a re-created ReaperPod) is not confused with ours', () => {
    const own = new OwnStatusWrites();
    own.remember(obj('5', 'Pending', 'old'), obj('6', 'Succeeded', 'old'));
    expect(own.freshest(obj('5', 'Pending', 'new'))).toEqual(obj('5', 'Pending', 'new'));
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const own = new OwnStatusWrites(2);
    own.remember(obj('1', 'Pending', 'a'), obj('2', 'Running', 'a'));
    own.remember(obj('1', 'Pending', 'b'), obj('2', 'Running', 'b'));
    own.remember(obj('1', 'Pending', 'c'), obj('2', 'Running', 'c'));
    expect(own.size).toBe(2);
    expect(own.freshest(obj('1', 'Pending', 'a')).status).toEqual({ phase: 'Pending' });
    expect(own.freshest(obj('1', 'Pending', 'c')).status).toEqual({ phase: 'Running' });
  });
});
