// The shapes the plugin reads from the API server: only the fields it shows. Every field is
// optional because the plugin may meet objects written by an older or newer reaper-flow.

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

interface DaemonJobNodeStatus {
  readonly nodeName: string;
  readonly phase?: string;
  readonly reaperPodName?: string;
  readonly exitCode?: number;
  readonly retryCount?: number;
  readonly message?: string;
}

export interface DaemonJobObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly generation?: number;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: { readonly after?: readonly string[]; readonly suspend?: boolean };
  readonly status?: {
    readonly phase?: string;
    readonly readyNodes?: number;
    readonly totalNodes?: number;
    readonly failedNodes?: number;
    readonly observedGeneration?: number;
    readonly message?: string;
    readonly lastTriggerValue?: string;
    /** Written by the scheduler once it acted on reaper.io/retry-failed (issue 12's spec part). */
    readonly lastRetryValue?: string;
    readonly conditions?: readonly Condition[];
    readonly nodeStatuses?: readonly DaemonJobNodeStatus[];
  };
}

export interface ReaperPodObject {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: { readonly nodeName?: string };
  readonly status?: {
    readonly phase?: string;
    readonly podName?: string;
    readonly nodeName?: string;
    readonly exitCode?: number;
    readonly startTime?: string;
    readonly completionTime?: string;
  };
}

export interface OverlayObject {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
  readonly spec?: { readonly resetGeneration?: number };
  readonly status?: {
    readonly phase?: string;
    readonly observedResetGeneration?: number;
    readonly message?: string;
    readonly nodes?: readonly {
      readonly nodeName: string;
      readonly ready?: boolean;
      readonly resetGeneration?: number;
      readonly message?: string;
    }[];
  };
}

/** Annotations the plugin writes; the scheduler acts on a changed value. */
export const TRIGGER_ANNOTATION = 'reaper.io/trigger';
export const RETRY_FAILED_ANNOTATION = 'reaper.io/retry-failed';
