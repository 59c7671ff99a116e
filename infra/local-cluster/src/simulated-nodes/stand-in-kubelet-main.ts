// Entry of the stand-in kubelet daemon that `npm run cluster -- up` starts (dev/test only).
// Usage: stand-in-kubelet-main.ts [--state-dir DIR] [--kubeconfig FILE] [--node-leases]
import { parseArgs } from 'node:util';
import { KubeClient } from '@reaper-flow/k8s';
import { stderrLogger } from '../log';
import { defaultStateDir, stateLayout } from '../paths';
import { StandInKubelet } from './stand-in-kubelet';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
    'node-leases': { type: 'boolean', default: false },
  },
});
const stateDir = values['state-dir'] ?? defaultStateDir();
const kubeconfigPath = values.kubeconfig ?? stateLayout(stateDir).kubeconfig;
const log = stderrLogger('stand-in-kubelet');

const client = await KubeClient.create({ kubeconfigPath, userAgent: 'reaper-flow-stand-in-kubelet' });
const kubelet = await StandInKubelet.start({
  client,
  stateDir,
  log,
  onConflict: 'wait',
  nodeLeases: values['node-leases'],
  onLeaseLost: () => process.exit(1),
});

const shutdown = async (signal: string) => {
  log(`${signal}: stopping pods and releasing the lease`);
  await kubelet.stop();
  client.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
