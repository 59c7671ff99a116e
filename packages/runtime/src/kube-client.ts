import { KubeClient } from '@reaper-flow/k8s';
import type { Config } from './config-schema';
import type { Metrics } from './metrics';

/**
 * The API client of one app, as every entry point needs it: the configured kubeconfig, pool size
 * and timeout, and every request counted in reaper_kube_api_requests_total and timed in
 * reaper_kube_api_request_duration_seconds.
 */
export function createAppKubeClient(
  config: Config,
  metrics: Metrics,
  userAgent: string,
): Promise<KubeClient> {
  return KubeClient.create({
    kubeconfigPath: config.kubernetes.kubeconfig,
    maxSockets: config.kubernetes.maxSockets,
    requestTimeoutMs: config.kubernetes.requestTimeoutMs,
    userAgent,
    onRequest: (m) => {
      metrics.apiRequests.inc({ verb: m.verb, resource: m.resource, code: String(m.code) });
      metrics.apiRequestDuration.observe({ verb: m.verb, resource: m.resource }, m.durationMs / 1000);
    },
  });
}
