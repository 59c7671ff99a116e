/** The parts of a DaemonJob object (as read from the API) that say what it waits for. */
export type WaitingForView = Readonly<{
  spec?: Readonly<{ suspend?: boolean }>;
  status?: Readonly<{
    conditions?: readonly Readonly<{ type: string; status: string; reason?: string; message?: string }>[];
  }>;
}>;

/**
 * What a DaemonJob waits for, in one line for operators (the plugin's tree, the DAG page):
 * `suspended`, else the message of its True `Blocked` condition (a dependency, a cycle, a failed
 * dependency), else '' when it waits for nothing.
 */
export function waitingFor(job: WaitingForView): string {
  if (job.spec?.suspend === true) return 'suspended';
  const blocked = job.status?.conditions?.find((c) => c.type === 'Blocked' && c.status === 'True');
  return blocked ? (blocked.message ?? blocked.reason ?? 'blocked') : '';
}
