import { REAPER_API_VERSION, REAPER_DAEMON_JOB_KIND, REAPER_POD_KIND } from '../schemas/api';
import type { Persisted } from '../schemas/object-meta';
import type { ReaperDaemonJob } from '../schemas/reaper-daemon-job';
import type { ReaperPod, ReaperPodSpec } from '../schemas/reaper-pod';
import {
  ATTEMPT_ANNOTATION,
  DAEMON_JOB_LABEL,
  DAEMON_JOB_NODE_LABEL,
  dnsLabelName,
  labelValue,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_LABEL,
  RUN_ID_ANNOTATION,
} from './labels';

/** Which run and attempt of a DaemonJob a ReaperPod belongs to, recorded as annotations. */
export interface RunInfo {
  readonly runId?: string;
  readonly attempt?: number;
}

/**
 * Deterministic name of the ReaperPod a DaemonJob runs on a node: `<job>-<node>` when that is a
 * valid DNS-1123 label (so the Pod name also works as a label value and hostname), otherwise a
 * stable `<prefix>-<hash>` of at most 63 characters.
 */
export function reaperPodNameFor(jobName: string, nodeName: string): string {
  return dnsLabelName(`${jobName}-${nodeName}`, `${jobName}/${nodeName}`);
}

function pinnedSpec(job: ReaperDaemonJob, nodeName: string): ReaperPodSpec {
  const s = job.spec;
  // nodeSelector is not copied: nodeName already pins the Pod, and a later label change on the
  // node must not make the Pod unschedulable.
  return {
    command: s.command,
    ...(s.args === undefined ? {} : { args: s.args }),
    ...(s.env === undefined ? {} : { env: s.env }),
    ...(s.volumes === undefined ? {} : { volumes: s.volumes }),
    ...(s.workingDir === undefined ? {} : { workingDir: s.workingDir }),
    ...(s.overlayName === undefined ? {} : { overlayName: s.overlayName }),
    ...(s.dnsMode === undefined ? {} : { dnsMode: s.dnsMode }),
    ...(s.runAsUser === undefined ? {} : { runAsUser: s.runAsUser }),
    ...(s.runAsGroup === undefined ? {} : { runAsGroup: s.runAsGroup }),
    ...(s.tolerations === undefined ? {} : { tolerations: s.tolerations }),
    nodeName,
  };
}

/**
 * The ReaperPod a DaemonJob runs on one node: the job's workload pinned to the node by nodeName,
 * owned by the job, labelled with job and node so the controller can list them, and annotated
 * with the run id and attempt when given.
 */
export function desiredReaperPodForNode(
  job: Persisted<ReaperDaemonJob>,
  nodeName: string,
  run: RunInfo = {},
): ReaperPod {
  const annotations = {
    ...(run.runId === undefined ? {} : { [RUN_ID_ANNOTATION]: run.runId }),
    ...(run.attempt === undefined ? {} : { [ATTEMPT_ANNOTATION]: String(run.attempt) }),
  };
  return {
    apiVersion: REAPER_API_VERSION,
    kind: REAPER_POD_KIND,
    metadata: {
      name: reaperPodNameFor(job.metadata.name, nodeName),
      namespace: job.metadata.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [DAEMON_JOB_LABEL]: labelValue(job.metadata.name),
        [NODE_LABEL]: labelValue(nodeName),
        [DAEMON_JOB_NODE_LABEL]: labelValue(nodeName),
      },
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
      ownerReferences: [
        {
          apiVersion: REAPER_API_VERSION,
          kind: REAPER_DAEMON_JOB_KIND,
          name: job.metadata.name,
          uid: job.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: pinnedSpec(job, nodeName),
  };
}
