/**
 * Writes infra/crds/*.yaml from the zod schemas in packages/domain. Run after changing a schema:
 *   npx tsx scripts/gen-crds.ts
 * A unit test fails while the committed files differ from what this prints.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from '../packages/domain/src/crd/render';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

for (const file of renderCrdFiles()) {
  const path = join(repoRoot, 'infra', 'crds', file.fileName);
  writeFileSync(path, file.content);
  console.log(`wrote ${path}`);
}
