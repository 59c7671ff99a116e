// Installs what `npm test` and `npm run demo` need on a fresh machine of this kind:
// the npm dependencies (npm ci), Debian's redis-server and redis-sentinel (the failover tests and
// `npm run cluster -- up --redis sentinel`) and Debian's chromium (the dashboard's browser test). The Go-built control-plane binaries are built on first use by
// infra/local-cluster (cached per machine).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => process.stderr.write(`[ensure-deps] ${msg}\n`);

function npmCiNeeded() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return true;
  return statSync(join(root, 'package-lock.json')).mtimeMs > statSync(installed).mtimeMs;
}

if (npmCiNeeded()) {
  log('installing npm dependencies (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const hasRedis = has('redis-server');
const hasSentinel = has('redis-sentinel');
// Debian's Chromium drives the dashboard's browser test (playwright-core never downloads a browser).
const hasChromium = existsSync('/usr/bin/chromium');
const debianPackages = [
  ...(!hasRedis && !process.env.REDIS_URL ? ['redis-server'] : []),
  ...(hasSentinel ? [] : ['redis-sentinel']),
  ...(hasChromium ? [] : ['chromium']),
];
if (debianPackages.length > 0) {
  log(`not found: installing Debian's ${debianPackages.join(', ')} with apt-get`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (args) => execFileSync(sudo.concat(args)[0], sudo.concat(args).slice(1), { stdio: 'inherit' });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', ...debianPackages]);
}
