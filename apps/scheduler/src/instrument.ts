import { errorLabel, isTerminal } from '@reaper-flow/domain';
import { isNamespaceGone } from '@reaper-flow/k8s';
import { formatKey, isRedisConnectionError, type ReconcileKind, type Reconciler } from '@reaper-flow/queue';
import type { KindReconciler, SchedulerContext } from './context';

/** How a reconcile ended, as a metric label. */
type ReconcileOutcomeLabel = 'done' | 'requeue' | 'transient' | 'terminal';

/**
 * Adapts a kind's reconciler to the queue: parses nothing more than the key, gives the reconcile
 * a logger naming its key, and records reaper_reconcile_duration_seconds{kind,outcome},
 * reaper_reconciles_total{kind,cause} and reaper_event_lag_seconds{kind}. Errors are passed on unchanged: the queue retries transient ones
 * with backoff and stops on a terminal error (`isTerminal`: a TerminalReconcileError the reconciler has already
 * reported on the object, or an API request refused as written).
 */
export function instrument(
  kind: ReconcileKind,
  reconciler: KindReconciler,
  ctx: SchedulerContext,
): Reconciler {
  return async (key, delivery) => {
    const log = ctx.logger.child({ key: formatKey(key) });
    // Lag is measured on first tries only: a retry's age is the backoff, not the pipeline's lag.
    if (delivery.attempt === 1)
      ctx.metrics.eventLag.observe({ kind }, Math.max(0, Date.now() - delivery.seenAt) / 1000);
    // Counted per try, like the duration: a retried reconcile is work done again.
    ctx.metrics.reconciles.inc({ kind, cause: delivery.cause });
    const started = performance.now();
    let outcome: ReconcileOutcomeLabel = 'done';
    try {
      const result = await reconciler.reconcile({ namespace: key.namespace, name: key.name, delivery, log });
      if (result?.requeueAfterMs !== undefined) outcome = 'requeue';
      return result;
    } catch (err) {
      outcome = isTerminal(err) ? 'terminal' : 'transient';
      if (outcome === 'terminal')
        log.warn({ err, code: errorLabel(err) }, 'reconcile stopped: retrying cannot succeed');
      // A Redis outage is reported once by the process's RedisHealth, not once per reconcile.
      else if (!ctx.redisHealth.up || isRedisConnectionError(err))
        log.debug(
          { err, attempt: delivery.attempt },
          'reconcile failed while Redis is unavailable; it will be retried',
        );
      // Its namespace is being deleted or gone: the object goes with it, and its deletion reconciles it.
      else if (isNamespaceGone(err))
        log.debug(
          { err, attempt: delivery.attempt },
          'reconcile refused: the namespace is being deleted or gone',
        );
      else log.error({ err, attempt: delivery.attempt }, 'reconcile failed; it will be retried');
      throw err;
    } finally {
      ctx.metrics.reconcileDuration.observe({ kind, outcome }, (performance.now() - started) / 1000);
    }
  };
}
