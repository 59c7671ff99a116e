import type { ReconcilerModule } from './context';
import { daemonJobModule } from './daemon-job/module';
import { overlayModule } from './overlay/reconcile';
import { reaperPodModule } from './reaper-pod/reconcile';

/**
 * The reconcilers the scheduler runs, one ReconcileQueue worker each.
 * The ReaperDaemonJob engine (./daemon-job) also runs the workers of its run flows.
 */
export const defaultModules: readonly ReconcilerModule[] = [reaperPodModule, overlayModule, daemonJobModule];
