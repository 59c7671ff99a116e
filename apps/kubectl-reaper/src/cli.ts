import { UsageError } from './context';
import { run } from './main';

// The executable's entry (bin/kubectl-reaper): run, print errors like kubectl, set the exit code.

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());
try {
  process.exitCode = await run(process.argv.slice(2), controller.signal);
} catch (err) {
  const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`error: ${(err as Error).message}\n`);
  if (usage) process.stderr.write("See 'kubectl reaper --help' for usage.\n");
  process.exitCode = usage ? 2 : 1;
}
