import { parseArgs } from 'node:util';
import { KubeClient } from '@reaper-flow/k8s';
import { setNodeFault } from '../faults/faults';
import type { Logger } from '../log';
import { addNode, parseTaint, rebootNode, removeNode, setNodeReady } from '../simulated-nodes/nodes';
import type { ClusterState } from '../state';

/** `node <add|ready|notready|reboot|remove|fail> NAME ...` against the running cluster. */
export async function nodeCommand(args: string[], state: ClusterState, log: Logger): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      label: { type: 'string', multiple: true },
      taint: { type: 'string', multiple: true },
      job: { type: 'string' },
      times: { type: 'string' },
      namespace: { type: 'string', default: 'default' },
    },
  });
  const [action, name, ...extra] = positionals;
  if (!action || !name || extra.length > 0) {
    throw new Error('usage: node <add|ready|notready|reboot|remove|fail> NAME [options] (see --help)');
  }
  const client = await KubeClient.create({ kubeconfigPath: state.kubeconfigPath });
  try {
    switch (action) {
      case 'add': {
        const labels: Record<string, string> = {};
        for (const l of values.label ?? []) {
          const eq = l.indexOf('=');
          if (eq <= 0) throw new Error(`bad label "${l}": expected key=value`);
          labels[l.slice(0, eq)] = l.slice(eq + 1);
        }
        await addNode(client, { name, labels, taints: (values.taint ?? []).map(parseTaint) });
        log(`node ${name} added (Ready)`);
        return;
      }
      case 'ready':
      case 'notready':
        await setNodeReady(
          client,
          name,
          action === 'ready',
          action === 'ready' ? undefined : 'marked NotReady by `cluster node notready`',
        );
        log(`node ${name} ${action === 'ready' ? 'Ready' : 'NotReady'}`);
        return;
      case 'reboot': {
        const { previousBootID, bootID } = await rebootNode(client, name, { downMs: 2000 });
        log(`node ${name} rebooted: bootID ${previousBootID} -> ${bootID}`);
        return;
      }
      case 'remove':
        log((await removeNode(client, name)) ? `node ${name} removed` : `node ${name} did not exist`);
        return;
      case 'fail': {
        const times = Number(values.times);
        if (!values.job || !Number.isInteger(times) || times < 0) {
          throw new Error('usage: node fail NAME --job JOB --times N [--namespace NS]');
        }
        await setNodeFault(client, { namespace: values.namespace, job: values.job, node: name, times });
        log(`the next ${times} run(s) of ${values.namespace}/${values.job} on ${name} will fail`);
        return;
      }
      default:
        throw new Error(`unknown node action "${action}" (add, ready, notready, reboot, remove, fail)`);
    }
  } finally {
    client.close();
  }
}
