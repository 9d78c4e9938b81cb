/**
 * The runner's HTTP client for one run on the relay. Every answer is checked
 * against the wire contract; failures become typed errors so the shipper can
 * tell "try again" from "resend from seq N" from "stop" (relay-errors.ts).
 */
import { API_BASE, ClaimReply, InputsReply, ProducerHeaders, RunId, type FinalStatus } from "../src/protocol/index.ts";
import { failure, FatalError, RetryableError, SeqGapError } from "./relay-errors.ts";

// The errors and the retry loop have modules of their own; they are imported from here too.
export { FatalError, RetryableError, SeqGapError } from "./relay-errors.ts";
export { backoff, retrying } from "./retry.ts";

/**
 * A runner token: a fixed string, or a function that returns a fresh one. A
 * function is called at the first request and again whenever the relay
 * answers 401 (`token_expired`): the request is then retried once with the
 * new token before the 401 is final.
 */
export type TokenSource = string | (() => Promise<string>);

export interface RelayOptions {
  /** Base URL of the relay, e.g. http://127.0.0.1:8787 */
  url: string;
  runId: string;
  token?: TokenSource;
}

/** `GET /inputs` as the runner reads it: `leaseSeconds` is absent from relays that predate leases. */
const InputsReplyRead = InputsReply.partial({ leaseSeconds: true });
export type InputsRead = { inputs: InputsReply["inputs"]; ended: boolean; leaseSeconds?: number | undefined };

export interface ProducerRef {
  id: string;
  epoch: number;
  seq: number;
}

/** Checks the options a person gave, with messages they can act on. */
export function checkRelayOptions(opts: RelayOptions): void {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new FatalError(0, "bad_url", `the relay URL "${opts.url}" is not a valid URL (e.g. http://127.0.0.1:8787)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FatalError(0, "bad_url", `the relay URL must start with http:// or https://, not ${url.protocol}//`);
  }
  if (!RunId.safeParse(opts.runId).success) {
    throw new FatalError(0, "bad_run_id", `the run id "${opts.runId}" must be 1–128 characters of A–Z, a–z, 0–9, '.', '_' or '-'`);
  }
}

export class RelayClient {
  /** The producer epoch this runner claimed, sent with its long-polls. */
  #fence: { id: string; epoch: number } | undefined;
  readonly opts: RelayOptions;
  readonly runUrl: string;
  readonly #renew: (() => Promise<string>) | undefined;
  #token: string | undefined;
  #renewing: Promise<string> | null = null;
  /** When the last request to the relay started (ms since the epoch); 0 before the first. */
  lastRequestAt = 0;
  /** The relay's runner lease (`leaseSeconds` of the last `GET /inputs` reply), if it has told it. */
  leaseSeconds: number | undefined;
  /** Times the token was renewed. */
  renewals = 0;

  constructor(opts: RelayOptions) {
    checkRelayOptions(opts);
    this.opts = opts;
    this.runUrl = `${opts.url.replace(/\/+$/, "")}${API_BASE}/${opts.runId}`;
    if (typeof opts.token === "function") this.#renew = opts.token;
    else this.#token = opts.token || undefined;
  }

  /** Appends one batch as a producer: "appended", or "duplicate" when the relay already had it. */
  async append(lines: readonly string[], producer: ProducerRef, signal?: AbortSignal): Promise<"appended" | "duplicate"> {
    const res = await this.#fetch("/events", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-ndjson",
        [ProducerHeaders.id]: producer.id,
        [ProducerHeaders.epoch]: String(producer.epoch),
        [ProducerHeaders.seq]: String(producer.seq),
      },
      body: lines.join("\n") + "\n",
      signal,
    });
    if (res.status === 200 || res.status === 204) {
      await res.body?.cancel();
      return res.status === 200 ? "appended" : "duplicate";
    }
    if (res.status === 409 && res.headers.has(ProducerHeaders.expectedSeq)) {
      await res.body?.cancel();
      throw new SeqGapError(Number(res.headers.get(ProducerHeaders.expectedSeq)), producer.seq);
    }
    throw await failure(res, "append");
  }

  /** The long-poll for inputs; `after` acknowledges every input up to it. */
  async pollInputs(after: number, waitSeconds: number, signal?: AbortSignal): Promise<InputsRead> {
    // After a claim, the poll names its epoch: the relay refuses a runner that another has taken over.
    const headers: Record<string, string> = this.#fence ? { [ProducerHeaders.id]: this.#fence.id, [ProducerHeaders.epoch]: String(this.#fence.epoch) } : {};
    const res = await this.#fetch(`/inputs?after=${after}&wait=${waitSeconds}`, { signal, headers });
    if (res.status !== 200) throw await failure(res, "poll for inputs");
    const reply = InputsReplyRead.parse(await res.json());
    if (reply.leaseSeconds !== undefined) this.leaseSeconds = reply.leaseSeconds;
    return reply;
  }

  /**
   * Claims the next epoch of a producer: the relay fences every earlier one
   * (their next append is 403 stale_producer_epoch), and the next batch at the
   * new epoch is seq 0.
   */
  async claim(producerId: string, signal?: AbortSignal): Promise<number> {
    const res = await this.#fetch(`/producers/${encodeURIComponent(producerId)}/claim`, { method: "POST", signal });
    if (res.status !== 200) throw await failure(res, "claim a producer epoch");
    const reply = ClaimReply.parse(await res.json());
    this.#fence = { id: producerId, epoch: reply.epoch };
    return reply.epoch;
  }

  /** Tells the relay the runner is alive while no other request is under way. */
  async heartbeat(signal?: AbortSignal): Promise<void> {
    const res = await this.#fetch("/heartbeat", { method: "POST", signal });
    if (res.status !== 204 && res.status !== 200) throw await failure(res, "take a heartbeat");
    await res.body?.cancel();
  }

  /** Reports inputs that will never reach the agent (viewers see an `undelivered` entry). */
  async undelivered(inputIds: number[], reason: string, signal?: AbortSignal): Promise<void> {
    const res = await this.#fetch("/inputs/undelivered", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ inputIds, reason: reason.slice(0, 200) }),
      signal,
    });
    if (res.status !== 200 && res.status !== 204) throw await failure(res, "report inputs undelivered");
    await res.body?.cancel();
  }

  /** Ends the run. Repeating the same status is answered the same, so a retry is safe. */
  async complete(status: FinalStatus, reason?: string, signal?: AbortSignal): Promise<void> {
    const res = await this.#fetch("/complete", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status, ...(reason && { reason: reason.slice(0, 4096) }) }),
      signal,
    });
    if (res.status !== 200) throw await failure(res, "complete the run");
    await res.body?.cancel();
  }

  /** The token in use (fetched on first use when it comes from a function). */
  async token(): Promise<string | undefined> {
    if (this.#token === undefined && this.#renew) await this.#renewFrom(undefined);
    return this.#token;
  }

  /**
   * One request. A 401 with a renewable token renews it once (one renewal
   * shared by every request that hit the same expired token) and sends the
   * request again; a second 401 is the answer.
   */
  async #fetch(path: string, init: RequestInit): Promise<Response> {
    const used = await this.token();
    const res = await this.#send(path, init, used);
    if (res.status !== 401 || !this.#renew) return res;
    await res.body?.cancel();
    await this.#renewFrom(used);
    return this.#send(path, init, this.#token);
  }

  async #send(path: string, init: RequestInit, token: string | undefined): Promise<Response> {
    this.lastRequestAt = Date.now();
    // A signal of its own for each request: fetch leaves its listener on the signal it is given,
    // and the input loop's signal outlives thousands of polls.
    const outer = init.signal;
    const own = new AbortController();
    const abort = () => own.abort(outer?.reason);
    if (outer?.aborted) abort();
    else outer?.addEventListener("abort", abort, { once: true });
    try {
      return await fetch(this.runUrl + path, {
        ...init,
        signal: own.signal,
        headers: { ...(token && { Authorization: `Bearer ${token}` }), ...init.headers },
      });
    } catch (err) {
      if (outer?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RetryableError(`cannot reach the relay at ${this.opts.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    } finally {
      outer?.removeEventListener("abort", abort);
    }
  }

  /** Renews the token unless another request already did since `stale` was current. */
  async #renewFrom(stale: string | undefined): Promise<void> {
    if (this.#token !== stale) return;
    this.#renewing ??= (async () => {
      try {
        const fresh = (await this.#renew!()).trim();
        if (!fresh) throw new Error("it gave an empty token");
        this.#token = fresh;
        if (stale !== undefined) this.renewals++;
        return fresh;
      } catch (err) {
        throw new FatalError(0, "token_renewal_failed", `cannot get a runner token: ${(err as Error).message}`);
      }
    })().finally(() => (this.#renewing = null));
    await this.#renewing;
  }
}
