/**
 * The relay client's failures as typed errors, so the shipper can tell "try
 * again" from "resend from seq N" from "stop", and the reading of a refusal
 * (status, error code, Retry-After) into one of them.
 */
import { readError } from "../src/protocol/index.ts";

/** A failure worth retrying: network error, 5xx, 429. */
export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** The relay expects an earlier batch (409 with Producer-Expected-Seq). */
export class SeqGapError extends Error {
  readonly expected: number;
  constructor(expected: number, received: number) {
    super(`the relay expects batch ${expected}, not ${received}`);
    this.expected = expected;
  }
}

/** Anything else: the request will not succeed by repeating it. */
export class FatalError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A refusal of `what` as a typed error: retryable for 5xx and 429, fatal otherwise. */
export async function failure(res: Response, what: string): Promise<Error> {
  const { code, message: detail } = await readError(res);
  const message = `the relay refused to ${what}: ${res.status} ${code}${detail ? ` (${detail})` : ""}`;
  if (res.status >= 500 || res.status === 429) return new RetryableError(message, retryAfter(res.headers.get("Retry-After")));
  return new FatalError(res.status, code, message);
}

/** `Retry-After` in seconds or as an HTTP date, in ms. */
function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
