/** Retrying what the relay may accept later: exponential backoff with jitter, and the retry loop. */
import { RetryableError } from "./relay-errors.ts";

/** Exponential backoff with full jitter, honouring a server's Retry-After. */
export function backoff(attempt: number, opts: { baseMs: number; maxMs: number }, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, opts.maxMs * 4);
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Runs `fn` until it succeeds, waiting with backoff after each retryable failure
 * (network errors, 5xx, 429) and telling the person why; any other error is thrown.
 */
export async function retrying<T>(
  fn: () => Promise<T>,
  retry: { baseMs: number; maxMs: number },
  report: { info(message: string): void },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      const delay = backoff(attempt, retry, err.retryAfterMs);
      report.info(`${err.message}; retrying in ${(delay / 1000).toFixed(1)}s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
