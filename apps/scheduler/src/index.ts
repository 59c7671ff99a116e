export {
  FIELD_MANAGER,
  type KindReconciler,
  type ReconcileOutcome,
  type ReconcileRequest,
  type ReconcilerModule,
  type SchedulerContext,
} from './context';
export { OVERLAY_FINALIZER } from './overlay/reconcile';
export { defaultModules } from './reconcilers';
export { type Scheduler, type SchedulerOptions, startScheduler } from './scheduler';
