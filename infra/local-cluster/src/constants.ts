/** RuntimeClass whose pods the stand-in kubelet runs (created by the local cluster, handler reaper-v2). */
export const RUNTIME_CLASS = 'reaper-v2';

/** Pod label naming the daemon job a pod runs; the stand-in kubelet's fault switch is keyed by it. */
export const DAEMON_JOB_LABEL = 'reaper.io/daemon-job';

/** Label on every Node the local cluster simulates; the stand-in kubelet serves only these. */
export const SIMULATED_LABEL = 'reaper.io/simulated';

/** Pod annotation naming the ReaperOverlay (in the pod's namespace) the Reaper runtime mounts. */
export const OVERLAY_ANNOTATION = 'reaper.runtime/overlay-name';

/** Label on every real kubelet node of the local cluster (`up --real-nodes N`). */
export const REAL_NODE_LABEL = 'reaper.io/real-node';
