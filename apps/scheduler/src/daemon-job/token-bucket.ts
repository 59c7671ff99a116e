/**
 * A token bucket for the rollout throttle (ReaperPod creations per second per scheduler). The rate
 * is read on every take, so a configuration reload applies at once. `take()` waits for a token;
 * the wait is the throttle itself, not a stand-in for a condition.
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly rate: () => number) {
    this.tokens = rate();
  }

  private get ratePerSecond(): number {
    return Math.max(1, this.rate());
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  async take(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
