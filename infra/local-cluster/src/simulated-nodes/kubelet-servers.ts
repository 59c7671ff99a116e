import type { ApiNode as Node } from '@reaper-flow/domain';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import type { Logger } from '../log';
import { KubeletServer, type KubeletTls, type PodLogLookup } from './kubelet-server';

/**
 * The kubelet API servers of the simulated nodes, one per node: started when a node is first seen,
 * its port published in the Node's status.daemonEndpoints whenever the Node does not show it (a
 * re-created Node, say), closed when the node goes. The API server dials `<InternalIP>:<port>`.
 */
export class KubeletServers {
  private readonly servers = new Map<string, Promise<KubeletServer | undefined>>();
  private closed = false;

  constructor(
    private readonly client: KubeClient,
    private readonly tls: KubeletTls,
    private readonly lookup: (node: string) => PodLogLookup,
    private readonly log: Logger,
  ) {}

  /** Serves `node` (once) and makes sure its Node status names the port. */
  serve(node: Node): void {
    const name = node.metadata.name;
    if (this.closed) return;
    let server = this.servers.get(name);
    if (!server) {
      server = KubeletServer.start(name, this.tls, this.lookup(name)).catch((err: Error) => {
        this.log(`node ${name}: cannot serve the kubelet API: ${err.message}`);
        return undefined;
      });
      this.servers.set(name, server);
    }
    void server.then(async (s) => {
      if (!s || node.status?.daemonEndpoints?.kubeletEndpoint?.Port === s.port) return;
      await this.client
        .patch(
          Resources.nodes,
          name,
          'merge',
          { status: { daemonEndpoints: { kubeletEndpoint: { Port: s.port } } } },
          { subresource: 'status' },
        )
        .catch((err: Error) => this.log(`node ${name}: publishing the kubelet port: ${err.message}`));
    });
  }

  /** The node is gone: its server stops. */
  remove(name: string): void {
    const server = this.servers.get(name);
    this.servers.delete(name);
    void server?.then((s) => s?.close());
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.servers.values()].map(async (s) => (await s)?.close()));
    this.servers.clear();
  }
}
