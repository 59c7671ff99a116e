/**
 * Runs tasks of the same key one after another, tasks of different keys in parallel. The worker
 * runs several jobs at once; two jobs of the same overlay (an ensure and a delete, say) must not
 * interleave their file operations inside this process. The lock file does the same across
 * processes, but it is polled, while this queue hands over at once.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(task);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      // Forget the key once nothing queued after us, so the map does not grow with every overlay.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
