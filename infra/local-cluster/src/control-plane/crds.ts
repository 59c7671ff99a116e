import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { parseAllDocuments } from 'yaml';

interface Crd {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Server-side applies every CustomResourceDefinition in `dir`/*.yaml (a missing or empty dir is fine)
 * and waits until each is Established, so its resources can be used at once. Returns their names.
 */
export async function applyCrds(client: KubeClient, dir: string, timeoutMs = 60_000): Promise<string[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter(
    (f) => f.endsWith('.yaml') || f.endsWith('.yml'),
  );
  const names: string[] = [];
  for (const file of files.sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as Crd | null;
      if (!obj) continue;
      const name = obj.metadata?.name;
      if (obj.kind !== 'CustomResourceDefinition' || !name) {
        throw new Error(
          `${file}: only CustomResourceDefinitions are applied here, found ${obj.kind} ${name ?? ''}`,
        );
      }
      await client.patch(Resources.customResourceDefinitions, name, 'apply', obj, {
        fieldManager: 'reaper-flow-local-cluster',
      });
      names.push(name);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await client.get<Crd>(Resources.customResourceDefinitions, name);
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return names;
}
