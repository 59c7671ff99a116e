import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/**
 * Writes a self-contained kubeconfig (certificates embedded as base64) for a client-certificate user,
 * so it keeps working when copied and needs no other file.
 */
export async function writeKubeconfig(
  path: string,
  opts: { server: string; caCert: string; clientCert: string; clientKey: string; user: string },
): Promise<void> {
  const b64 = async (file: string) => (await readFile(file)).toString('base64');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'reaper-flow-local',
        cluster: { server: opts.server, 'certificate-authority-data': await b64(opts.caCert) },
      },
    ],
    users: [
      {
        name: opts.user,
        user: {
          'client-certificate-data': await b64(opts.clientCert),
          'client-key-data': await b64(opts.clientKey),
        },
      },
    ],
    contexts: [{ name: 'reaper-flow-local', context: { cluster: 'reaper-flow-local', user: opts.user } }],
    'current-context': 'reaper-flow-local',
    preferences: {},
  };
  await writeFile(path, stringify(doc), { mode: 0o600 });
}
