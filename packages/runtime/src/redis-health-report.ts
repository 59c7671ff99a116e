import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** The callbacks a RedisHealth (packages/queue) reports to; structurally its listener. */
export interface RedisHealthReport {
  onDown(info: { readonly reason: string; readonly at: number }): void;
  onUp(info: { readonly downMs: number; readonly at: number }): void;
  onError(err: Error, source: string): void;
}

/**
 * How every app reports Redis health: one ERROR line when Redis becomes unavailable, one INFO line
 * when it is back (with how long it was away), reaper_redis_up / _outages_total /
 * _down_seconds_total, and a WARN line for a Redis error that is not an outage.
 */
export function redisHealthReport(logger: Logger, metrics: Metrics): RedisHealthReport {
  return {
    onDown({ reason }) {
      metrics.redisUp.set(0);
      metrics.redisOutages.inc();
      logger.error({ reason }, 'redis unavailable: work pauses until it is back');
    },
    onUp({ downMs }) {
      metrics.redisUp.set(1);
      metrics.redisDownSeconds.inc(downMs / 1000);
      logger.info({ downMs }, 'redis available again');
    },
    onError(err, source) {
      logger.warn({ err, source }, 'redis error');
    },
  };
}
