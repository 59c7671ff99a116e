/** API group of every reaper-flow custom resource. */
export const REAPER_GROUP = 'reaper.io';
/** The only served and stored version. */
export const REAPER_VERSION = 'v1alpha1';
/** `apiVersion` field value of every reaper-flow custom resource. */
export const REAPER_API_VERSION = `${REAPER_GROUP}/${REAPER_VERSION}` as const;

export const REAPER_POD_KIND = 'ReaperPod';
export const REAPER_OVERLAY_KIND = 'ReaperOverlay';
export const REAPER_DAEMON_JOB_KIND = 'ReaperDaemonJob';
