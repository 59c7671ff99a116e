// Terminal progress: every line says the total elapsed time, the scenario and its elapsed time.
import { appendFileSync } from 'node:fs';

class Progress {
  private readonly started = performance.now();
  private scenario = 'setup';
  private scenarioStarted = performance.now();
  private logFile: string | undefined;

  /** Also appends every line to this file (the results dir's progress.log). */
  setLogFile(path: string): void {
    this.logFile = path;
  }

  /** Seconds since the bench started. */
  elapsedS(): number {
    return (performance.now() - this.started) / 1000;
  }

  begin(scenario: string, what?: string): void {
    this.scenario = scenario;
    this.scenarioStarted = performance.now();
    this.step(what ?? 'start');
  }

  step(message: string): void {
    const total = this.elapsedS().toFixed(1).padStart(6);
    const inScenario = ((performance.now() - this.scenarioStarted) / 1000).toFixed(1).padStart(5);
    const line = `[bench ${total}s | ${this.scenario.padEnd(10)} ${inScenario}s] ${message}`;
    process.stderr.write(`${line}\n`);
    if (this.logFile) {
      try {
        appendFileSync(this.logFile, `${line}\n`);
      } catch {
        // the log file is a convenience; the terminal line was written
      }
    }
  }

  /**
   * Runs `work`, printing `label ... still waiting (Ns)` every `everyMs` while it runs, so a long
   * step on a loaded machine is visibly alive.
   */
  async during<T>(label: string, work: Promise<T>, everyMs = 10_000): Promise<T> {
    const t0 = performance.now();
    const timer = setInterval(() => {
      this.step(`${label} ... still waiting (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }, everyMs);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }
}

export const progress = new Progress();
