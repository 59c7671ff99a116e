import { readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stopGroups } from '../control-plane/daemon';

// The kubelet records each pod process group in <node>/run/<uid>.pid, so a kubelet that crashed (or
// was SIGKILLed) does not leave pod processes nobody knows about: its successor and `down` find them.

interface PidRecord {
  readonly pid: number;
  /** /proc/<pid>/stat start time: tells the recorded process from a later one that got the same pid. */
  readonly startTime: string;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Records a pod's process group (synchronously: it must exist before the process can exit). */
export function writePidFile(path: string, pid: number): void {
  const record: PidRecord = { pid, startTime: startTimeOf(pid) ?? '' };
  writeFileSync(path, JSON.stringify(record));
}

/** The process recorded in a pid file if it still runs (synchronous, for exit handlers), else undefined. */
export function livePidFromFileSync(path: string): number | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as PidRecord;
    return startTimeOf(record.pid) === record.startTime ? record.pid : undefined;
  } catch {
    return undefined;
  }
}

/** The process group recorded in a pid file if its leader still runs, else undefined. */
async function livePidFromFile(path: string): Promise<number | undefined> {
  try {
    const record = JSON.parse(await readFile(path, 'utf8')) as PidRecord;
    return startTimeOf(record.pid) === record.startTime ? record.pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops every pod process group still recorded under `<nodesDir>/<node>/run/` and removes the records. */
export async function killOrphanedPods(nodesDir: string): Promise<void> {
  const nodes = await readdir(nodesDir).catch(() => [] as string[]);
  const files = (
    await Promise.all(
      nodes.map(async (node) => {
        const run = join(nodesDir, node, 'run');
        const names = await readdir(run).catch(() => [] as string[]);
        return names.filter((n) => n.endsWith('.pid')).map((n) => join(run, n));
      }),
    )
  ).flat();
  const pids = (await Promise.all(files.map(livePidFromFile))).filter((p): p is number => p !== undefined);
  await stopGroups(pids, 2000);
  await Promise.all(files.map((f) => rm(f, { force: true })));
}
