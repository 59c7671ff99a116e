// Real process faults against a running local cluster, for fault tests and by hand: kill one of its
// server processes (kube-apiserver, etcd, redis, kube-controller-manager) with a real signal and later
// start it again with the same command line, data and ports, as a crashed server restarted by its
// supervisor would be.
import { readFileSync } from 'node:fs';
import { type DaemonRecord, groupMembers, signalGroup, spawnDaemon } from '../control-plane/daemon';
import { readState, writeState } from '../state';

/** A server process that was killed, with what it takes to start it again. */
export interface KilledProcess {
  readonly record: DaemonRecord;
  readonly argv: readonly string[];
}

/**
 * Kills the cluster's process `name` (its whole process group) with `signal` and resolves once no
 * member is left. Its command line (recorded at start, else read from /proc) is kept, so it can be
 * restarted unchanged.
 */
export async function killClusterProcess(
  stateDir: string,
  name: string,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<KilledProcess> {
  const state = await readState(stateDir);
  const record = state?.processes.find((p) => p.name === name);
  if (!state || !record) throw new Error(`no process ${name} in the cluster of ${stateDir}`);
  const argv = record.argv ?? readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  if (argv.length === 0) throw new Error(`${name} (pid ${record.pid}) has no command line: is it running?`);
  signalGroup(record.pid, signal);
  const deadline = Date.now() + 15_000;
  while (groupMembers(record.pid).length > 0) {
    if (Date.now() > deadline) throw new Error(`${name} (pid ${record.pid}) survived ${signal}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { record, argv };
}

/** Starts a killed process again with the same command line and log; state.json records the new pid. */
export async function restartClusterProcess(stateDir: string, killed: KilledProcess): Promise<DaemonRecord> {
  const [command, ...args] = killed.argv as [string, ...string[]];
  const daemon = await spawnDaemon(killed.record.name, command, args, {
    log: killed.record.log,
    match: killed.record.match,
    detach: true,
  });
  const state = await readState(stateDir);
  if (!state) throw new Error(`the cluster of ${stateDir} is gone`);
  await writeState({
    ...state,
    processes: state.processes.map((p) => (p.name === killed.record.name ? daemon.record : p)),
  });
  return daemon.record;
}
