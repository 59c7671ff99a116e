/**
 * Writes infra/crds/*.yaml (and the copies in infra/deploy/base/crds) from the zod schemas in packages/domain. Run after changing a schema:
 *   npx tsx scripts/gen-crds.ts
 * A unit test fails while the committed files differ from what this prints.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from '../packages/domain/src/crd/render';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

// infra/deploy/base/crds holds copies: kustomize refuses files outside its directory.
for (const file of renderCrdFiles()) {
  for (const dir of [join(repoRoot, 'infra', 'crds'), join(repoRoot, 'infra', 'deploy', 'base', 'crds')]) {
    const path = join(dir, file.fileName);
    writeFileSync(path, file.content);
    console.log(`wrote ${path}`);
  }
}
