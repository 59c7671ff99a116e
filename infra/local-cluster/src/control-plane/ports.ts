import { createServer } from 'node:net';

/**
 * `count` distinct ports free on 127.0.0.1 right now: bind port 0 and let the kernel choose (all kept
 * bound until every one is chosen, so none repeats). There is a small window before the daemons bind
 * them; the readiness checks catch the rare collision.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  if (ports.some((p) => p === 0)) throw new Error('could not read a bound port');
  return ports;
}
