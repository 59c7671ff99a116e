import { encodeInboxCommand, type InboxCommand } from '@reaper-flow/domain';
import { RedisKeys } from './names';
import type { RedisClient } from './redis';
import { defineScript, type LuaScript, type ScriptCommand } from './scripts';
import {
  type DaemonJobSnapshot,
  decodeInboxEntry,
  decodeSnapshot,
  encodeSnapshot,
  type InboxEntry,
} from './stored-data';

// KEYS: snapshot, log, inbox, version, runs, progress.
// ARGV: expectedVersion, snapshotJson, inboxCursor, logMaxLen, nSet, nDel, nEvents, nProgressSet,
// nProgressDel, then nSet (node, runId) pairs, nDel nodes, nEvents events, nProgressSet (field, value)
// pairs and nProgressDel fields.
// Saves the snapshot only if nobody saved since it was loaded (the version lives in its own key, so
// the check does not decode a snapshot that is large on big clusters), keeps the node -> current
// run index and the progress index (what dependents gate on) in step, appends the new domain events
// to the job's log (clearing an expiry left by a deleted namesake), and trims the inbox entries already folded in, atomically.
const SAVE_SCRIPT: LuaScript = {
  name: 'reaperDaemonJobSave',
  numberOfKeys: 6,
  lua: `
local currentVersion = tonumber(redis.call('GET', KEYS[4]) or '0')
if currentVersion ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[4], tostring(currentVersion + 1))
local nSet, nDel, nEvents = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local nPSet, nPDel = tonumber(ARGV[8]), tonumber(ARGV[9])
local i = 10
for _ = 1, nSet do
  redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, nDel do
  redis.call('HDEL', KEYS[5], ARGV[i])
  i = i + 1
end
for _ = 1, nEvents do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[i])
  i = i + 1
end
-- A live job's log never expires: a job created again under the name of a deleted one keeps its
-- history past the expiry forget() gave the old incarnation's log.
redis.call('PERSIST', KEYS[2])
for _ = 1, nPSet do
  redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, nPDel do
  redis.call('HDEL', KEYS[6], ARGV[i])
  i = i + 1
end
if ARGV[3] ~= '0-0' then
  -- XTRIM MINID drops ids lower than its threshold: the id right after the cursor.
  local ms, seq = string.match(ARGV[3], '^(%d+)-(%d+)$')
  redis.call('XTRIM', KEYS[3], 'MINID', ms .. '-' .. tostring(tonumber(seq) + 1))
end
return 1
`,
};

// KEYS: the job's suspended-waits hash, the index of jobs with any. ARGV: node, runId, `<ns>/<name>`.
const CLEAR_SUSPENDED_SCRIPT: LuaScript = {
  name: 'reaperDaemonJobClearSuspendedWait',
  numberOfKeys: 2,
  lua: `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return 1
`,
};

/** Changes to a hash index saved with a snapshot (node -> current run, or node -> progress). */
export interface RunIndexChanges {
  readonly set: Readonly<Record<string, string>>;
  readonly del: readonly string[];
}

/** What a dependent reads of a dependency's progress index for one node: the raw stored values. */
export interface ProgressEntry {
  /** The node's encoded progress, if the dependency targets it. */
  readonly node?: string;
  /** The encoded progress meta (generation started, trigger acted on), if ever saved. */
  readonly meta?: string;
}

const NO_CHANGES: RunIndexChanges = { set: {}, del: [] };

/**
 * Durable state of each ReaperDaemonJob in Redis:
 * - `log`: the job's domain events (past tense), the full per-node history; trimmed by retention;
 * - `inbox`: commands from node-run workers (started, finished) waiting to be folded in. Workers
 *   only append here, so hundreds of nodes finishing at once never contend on the state;
 * - `snapshot`: the folded state, written only by the job's reconcile (serialised per key by the
 *   reconcile queue; the compare-and-set guards against a stalled duplicate).
 * A crash between an inbox append and the fold loses nothing: the entry stays until a save
 * records a cursor past it.
 */
export class DaemonJobStore {
  private readonly saveScript: ScriptCommand;
  private readonly clearSuspendedScript: ScriptCommand;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly logMaxLen: number,
  ) {
    this.saveScript = defineScript(redis, SAVE_SCRIPT);
    this.clearSuspendedScript = defineScript(redis, CLEAR_SUSPENDED_SCRIPT);
  }

  private keys(namespace: string, name: string) {
    return RedisKeys.djob(this.prefix, namespace, name);
  }

  /** The jobs that have node-runs parked on their suspension (members `<ns>/<name>`). */
  private get suspendedJobsKey(): string {
    return RedisKeys.djobsWithSuspendedWaits(this.prefix);
  }

  /**
   * The job's saved state, parsed (a snapshot of the previous release is migrated). Throws
   * UnreadableStoredDataError (terminal, naming the key and what to do) for one that does not parse
   * or was written in a newer format: it is never misread.
   */
  async load(namespace: string, name: string): Promise<DaemonJobSnapshot | undefined> {
    const k = this.keys(namespace, name);
    const text = await this.redis.get(k.snapshot);
    return text ? decodeSnapshot(text, k) : undefined;
  }

  /** Saves `next` if the stored version is still `expectedVersion`; returns false on a lost race. */
  async save(
    namespace: string,
    name: string,
    expectedVersion: number,
    next: Omit<DaemonJobSnapshot, 'version'>,
    events: readonly unknown[],
    runs: RunIndexChanges = NO_CHANGES,
    progress: RunIndexChanges = NO_CHANGES,
  ): Promise<boolean> {
    const k = this.keys(namespace, name);
    const snapshot: DaemonJobSnapshot = { ...next, version: expectedVersion + 1 };
    const sets = Object.entries(runs.set);
    const progressSets = Object.entries(progress.set);
    const ok = await this.saveScript(
      k.snapshot,
      k.log,
      k.inbox,
      k.version,
      k.runs,
      k.progress,
      String(expectedVersion),
      encodeSnapshot(snapshot),
      next.inboxCursor,
      String(this.logMaxLen),
      String(sets.length),
      String(runs.del.length),
      String(events.length),
      String(progressSets.length),
      String(progress.del.length),
      ...sets.flat(),
      ...runs.del,
      ...events.map((e) => JSON.stringify(e)),
      ...progressSets.flat(),
      ...progress.del,
    );
    return ok === 1;
  }

  /**
   * A dependency's progress on one node, as its last save left it (one HMGET): what a dependent's
   * node-run reads before it may start there.
   */
  async progressOf(namespace: string, name: string, node: string, metaField: string): Promise<ProgressEntry> {
    const [entry, meta] = await this.redis.hmget(this.keys(namespace, name).progress, node, metaField);
    return { ...(entry != null && { node: entry }), ...(meta != null && { meta }) };
  }

  /**
   * Registers that `runId`'s node-run on `node` waits for a dependency. Registered before the
   * dependency is read: a dependency that saves progress after that read finds the registration and
   * wakes the node-run, so no wake-up falls between the read and the park.
   */
  async markHeld(namespace: string, name: string, node: string, runId: string): Promise<void> {
    await this.redis.hset(this.keys(namespace, name).held, node, runId);
  }

  async clearHeld(namespace: string, name: string, node: string): Promise<void> {
    await this.redis.hdel(this.keys(namespace, name).held, node);
  }

  /**
   * Registers that `runId`'s node-run on `node` parked because the job is suspended, and the job in
   * the index the recovery sweep reads. Registered before the node-run reads the job again: a
   * reconcile of the resumed job that lists the registrations after that finds it; one that listed
   * them before had the resume in the world already, which that read sees.
   */
  async markSuspendedWait(namespace: string, name: string, node: string, runId: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys(namespace, name).suspended, node, runId)
      .sadd(this.suspendedJobsKey, `${namespace}/${name}`)
      .exec();
  }

  /** The node-runs parked on the job's suspension: node -> run id. */
  async suspendedWaits(namespace: string, name: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.keys(namespace, name).suspended)));
  }

  /** Drops a registration (only if it is still `runId`'s); the job leaves the index with its last one. */
  async clearSuspendedWait(namespace: string, name: string, node: string, runId: string): Promise<void> {
    await this.clearSuspendedScript(
      this.keys(namespace, name).suspended,
      this.suspendedJobsKey,
      node,
      runId,
      `${namespace}/${name}`,
    );
  }

  /** Jobs with node-runs parked on suspension, as `{namespace, name}`. */
  async jobsWithSuspendedWaits(): Promise<{ namespace: string; name: string }[]> {
    return (await this.redis.smembers(this.suspendedJobsKey)).flatMap((member) => {
      const slash = member.indexOf('/');
      return slash > 0 ? [{ namespace: member.slice(0, slash), name: member.slice(slash + 1) }] : [];
    });
  }

  /** The held node-runs of the job among `nodes`: node -> run id. */
  async heldRuns(namespace: string, name: string, nodes: readonly string[]): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    if (nodes.length === 0) return held;
    const runIds = await this.redis.hmget(this.keys(namespace, name).held, ...nodes);
    nodes.forEach((node, i) => {
      const runId = runIds[i];
      if (runId) held.set(node, runId);
    });
    return held;
  }

  /**
   * The run that currently owns `node` of the job (one HGET: node-run steps ask this on every step,
   * and must not parse the whole job state to know it).
   */
  async currentRun(namespace: string, name: string, node: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys(namespace, name).runs, node)) ?? undefined;
  }

  /** Appends a command from a node-run worker (with its format version); the job's next reconcile folds it in. */
  async appendInbox(namespace: string, name: string, command: InboxCommand): Promise<string> {
    const id = await this.redis.xadd(
      this.keys(namespace, name).inbox,
      '*',
      'command',
      JSON.stringify(encodeInboxCommand(command)),
    );
    return id ?? '';
  }

  /**
   * The inbox entries after `afterId`, parsed (entries of the previous release migrated). Anyone with
   * Redis access can write here, so an entry that does not parse is returned refused, with an error
   * naming it, rather than making every reconcile of the job throw.
   */
  async readInbox(namespace: string, name: string, afterId: string, count = 5000): Promise<InboxEntry[]> {
    const key = this.keys(namespace, name).inbox;
    const entries = await this.redis.xrange(key, `(${afterId}`, '+', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const at = fields.indexOf('command');
      return decodeInboxEntry(id, at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined, key);
    });
  }

  /**
   * The job's domain events, oldest first. Anyone with Redis access can write to the log, so an
   * entry without an `event` field or whose value is not JSON comes back as an `UnreadableLogEntry`
   * (which no reader takes for an event) rather than making the whole history unreadable.
   */
  async readLog(namespace: string, name: string, count = 100_000): Promise<unknown[]> {
    const entries = await this.redis.xrange(this.keys(namespace, name).log, '-', '+', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const at = fields.indexOf('event');
      const text = at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
      if (text === undefined) return unreadableLogEntry(id, 'no event field');
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        return unreadableLogEntry(id, (err as Error).message);
      }
    });
  }

  /** Forgets a deleted job's state and inbox (its log stays for history until trimmed or expired). */
  async forget(namespace: string, name: string, keepLogSeconds: number): Promise<void> {
    const k = this.keys(namespace, name);
    await this.redis
      .multi()
      .del(
        k.snapshot,
        k.inbox,
        k.version,
        k.runs,
        k.progress,
        k.held,
        k.suspended,
        k.slotHolders,
        k.slotWaiters,
      )
      .srem(this.suspendedJobsKey, `${namespace}/${name}`)
      .expire(k.log, keepLogSeconds)
      .exec();
  }
}

/** A log entry `readLog` could not read: its stream id and why. */
export interface UnreadableLogEntry {
  readonly unreadable: string;
  readonly reason: string;
}

function unreadableLogEntry(id: string, reason: string): UnreadableLogEntry {
  return { unreadable: id, reason };
}
