// What goes into an app image: the one list both builders follow. `npm run images` (app-images.ts)
// builds from it; infra/deploy/Dockerfile says the same in Docker's words, and
// app-image-contents.unit.test.ts reads the Dockerfile and fails when the two differ (the npm
// command, the directories copied, the entry point, user, environment and port), and when the tag
// differs from the Helm chart's appVersion and the kustomize base's image tags.

/** The apps that ship as images (kubectl-reaper is a plugin on the user's machine, not an image). */
export const IMAGE_APPS = ['watcher', 'scheduler', 'node-agent', 'dashboard'] as const;
export type ImageApp = (typeof IMAGE_APPS)[number];

/** The tag of every app image: the Helm chart's appVersion, the kustomize base's tags. */
export const APP_IMAGE_TAG = '0.1.0';

/** The name an app image goes by (what the chart's `<app>.image.repository` defaults to). */
export function appImageRepository(app: ImageApp): string {
  return `reaper-flow/${app}`;
}

/** The app image's layout: the working dir holds the production install and the app's bundle. */
export const APP_IMAGE = {
  workdir: '/app',
  /** Where the Node binary is (the official node images put it here too). */
  node: '/usr/local/bin/node',
  /**
   * Production dependencies: npm's own install from the lock file, in a directory holding only the
   * lock file, `.npmrc` and every workspace's package.json. Install scripts are not run (the two
   * packages with one, esbuild and msgpackr-extract, ship prebuilt platform packages).
   */
  npmCiArgs: ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
  /** The app's build output (`dist/<app>/`, from scripts/build-apps.mjs) is copied here. */
  distDir: (app: string) => `dist/${app}`,
  /**
   * `/app/main.js` links to the app's bundle, so every image has the same entry point (a Dockerfile
   * cannot put a build argument in an exec-form ENTRYPOINT). Node resolves the link before it runs
   * the module, so imports and the source map resolve from dist/<app>/.
   */
  mainLink: 'main.js',
  mainTarget: (app: string) => `dist/${app}/main.js`,
  entrypoint: ['/usr/local/bin/node', '--enable-source-maps', '/app/main.js'],
  /**
   * Unprivileged (uid 1000, `node` in the official images). The watcher, scheduler and dashboard run
   * as it; the node agent needs root on its node (it unmounts overlays and writes the runtime's
   * host state dir), which its DaemonSet asks for with `runAsUser: 0`.
   */
  user: '1000:1000',
  env: ['REAPER_FLOW_CONFIG=/etc/reaper-flow/reaper-flow.yaml'],
  /** /metrics, /livez, /readyz. */
  port: 9090,
} as const;

/** Programs of the machine an app runs besides node (each with the libraries it links). */
export const APP_EXTRA_PROGRAMS: Readonly<Record<ImageApp, readonly string[]>> = {
  watcher: [],
  scheduler: [],
  // `umount --lazy` (util-linux): busybox's umount has no long options.
  'node-agent': ['/usr/bin/umount'],
  dashboard: [],
};

/** The in-cluster Redis image: Debian's redis-server and redis-cli (the readiness probe). */
export const REDIS_IMAGE = {
  repository: 'reaper-flow/redis',
  programs: ['/usr/bin/redis-server', '/usr/bin/redis-cli'],
  entrypoint: ['/usr/bin/redis-server'],
  /** `redis` in the official images; the chart's StatefulSet runs as 999 with fsGroup 999. */
  user: '999:999',
  dataDir: 'data',
  port: 6379,
} as const;

export const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
