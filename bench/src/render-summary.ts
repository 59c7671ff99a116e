// `npm run bench:summary -- <results dir>`: writes summary.md again from that run's results.json
// (after a change to the report, without running the benchmark again).
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderSummary } from './report';
import type { Results } from './results';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: npm run bench:summary -- <bench/results/<timestamp> directory>\n');
  process.exit(2);
}
const file = join(resolve(dir), 'results.json');
const results = JSON.parse(await readFile(file, 'utf8')) as Results;
await writeFile(join(resolve(dir), 'summary.md'), renderSummary(results));
process.stdout.write(`wrote ${join(resolve(dir), 'summary.md')} from ${file}\n`);
