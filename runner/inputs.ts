/**
 * The input loop: long-polls the relay for messages, interrupts and control
 * messages (a participant's answer to a permission prompt, …), hands each
 * to the source once, in order, and only then advances (and spools) its cursor;
 * the next poll's `after` acknowledges them to the relay. An input that cannot
 * be handed over (the injection failed, or the session has closed) is reported
 * to the relay as undelivered, with the reason, and the loop goes on: no input
 * stays queued in silence.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Input } from "../src/protocol/index.ts";
import { backoff, retrying, RetryableError, type RelayClient } from "./relay.ts";
import type { Reporter } from "./report.ts";
import type { Spool } from "./spool.ts";

export class InputLoop {
  readonly #client: RelayClient;
  readonly #spool: Spool;
  readonly #deliver: (input: Input) => Promise<void>;
  readonly #report: Reporter;
  readonly #retry: { baseMs: number; maxMs: number };
  #cursor: number;
  /** Inputs are handed over one at a time, whichever poll brought them. */
  #chain: Promise<void> = Promise.resolve();
  #ended = false;
  /** The highest cursor the relay has been told. */
  #acknowledged = 0;

  constructor(
    client: RelayClient,
    spool: Spool,
    deliver: (input: Input) => Promise<void>,
    report: Reporter,
    retry: { baseMs: number; maxMs: number },
  ) {
    this.#retry = retry;
    this.#client = client;
    this.#spool = spool;
    this.#deliver = deliver;
    this.#report = report;
    this.#cursor = spool.inputCursor;
  }

  /** True once the relay said the run has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Long-polls until `signal` aborts or the run ends. */
  async run(signal: AbortSignal, waitSeconds: number): Promise<void> {
    for (let attempt = 0; !signal.aborted && !this.#ended; ) {
      try {
        await this.poll(waitSeconds, signal);
        attempt = 0;
      } catch (err) {
        if (signal.aborted || err instanceof StopDelivering) return;
        if (!(err instanceof RetryableError)) throw err;
        const delay = backoff(attempt++, this.#retry, err.retryAfterMs);
        this.#report.verbose(`${err.message}; polling again in ${(delay / 1000).toFixed(1)}s`);
        await sleep(delay, undefined, { signal }).catch(() => {});
      }
    }
  }

  /** Checks the relay answers for this run (and acknowledges what a previous runner injected); true if it has ended. */
  async probe(): Promise<boolean> {
    const after = this.#cursor;
    const reply = await this.#client.pollInputs(after, 0);
    this.#acknowledged = Math.max(this.#acknowledged, after);
    if (reply.ended) this.#ended = true;
    return reply.ended;
  }

  /** One poll (also used with wait 0 to ask "is a message waiting right now?"). */
  async poll(waitSeconds: number, signal?: AbortSignal): Promise<void> {
    const after = this.#cursor;
    const reply = await this.#client.pollInputs(after, waitSeconds, signal);
    this.#acknowledged = Math.max(this.#acknowledged, after);
    if (reply.ended) this.#ended = true;
    await this.#handOver(reply.inputs);
  }

  /** Tells the relay what was injected (before the run ends), without taking anything new. */
  async acknowledge(): Promise<void> {
    await this.#chain;
    if (this.#cursor > this.#acknowledged) await this.#client.pollInputs(this.#cursor, 0);
  }

  #handOver(inputs: Input[]): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      for (const input of inputs) {
        if (input.id <= this.#cursor) continue; // already injected (another poll, or before a restart)
        try {
          await this.#deliver(input);
        } catch (err) {
          if (err instanceof StopDelivering) throw err;
          await this.#undelivered(input, err);
        }
        this.#cursor = input.id;
        this.#spool.injected(input.id);
      }
    });
    return this.#chain;
  }

  /** Tells the relay (and so every viewer) that an input will never reach the agent, and why. */
  async #undelivered(input: Input, err: unknown): Promise<void> {
    const reason = err instanceof UndeliverableError ? err.reason : `injection_failed: ${(err as Error)?.message ?? String(err)}`;
    this.#report.info(`${input.kind} ${input.id} not delivered (${reason})`);
    try {
      await retrying(() => this.#client.undelivered([input.id], reason), this.#retry, this.#report);
    } catch (e) {
      this.#report.error(`could not report ${input.kind} ${input.id} undelivered: ${(e as Error).message}`);
    }
  }
}

/** Thrown by `deliver` to stop the loop at once, leaving the input queued on the relay (another runner took over). */
export class StopDelivering extends Error {
  constructor() {
    super("stop delivering");
  }
}

/** An input the session cannot take, with the reason the relay records (e.g. `session_closed`). */
export class UndeliverableError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}
