/**
 * A run's session: reads the source's stream-json lines and ships them, feeds
 * the source what participants send, decides when the session is over, and
 * ends the run on the relay with the right status.
 *
 * When is it over? In streaming-input mode the agent keeps its session open as
 * long as its input is open. The runner closes the input once a turn's
 * `result` has arrived and every message it injected has been taken up by the
 * agent (Claude Code reports each as a `command_lifecycle` that reaches
 * `completed`; a message sent mid-turn may be folded into that turn), and no
 * further input arrives within the idle timeout.
 */
import type { FinalStatus, Input, UserMessage } from "../src/protocol/index.ts";
import { InputLoop } from "./inputs.ts";
import { FatalError, RelayClient, retrying, type RelayOptions } from "./relay.ts";
import type { Reporter } from "./report.ts";
import { DEFAULT_SHIPPER, Shipper, type ShipperOptions } from "./shipper.ts";
import { Spool } from "./spool.ts";

/** A line the source printed, and for a tailed file where it was read up to. */
export interface SourceLine {
  text: string;
  offset?: number;
}

/** Where a run's stream-json comes from, and how participants reach it. */
export interface Source {
  /** Starts the agent (or the follower); `from` is where a restarted tail resumes. */
  lines(from?: number): AsyncIterable<SourceLine>;
  /** Sends a user message into the live session; returns the uuid it carries, if any. */
  inject(message: UserMessage, input: Input): Promise<string | undefined>;
  /** Stops the agent's current turn. */
  interrupt(input?: Input): Promise<void>;
  /** Closes the session's input: the agent finishes and its lines end. */
  end(): void;
}

export interface SessionOptions {
  relay: RelayOptions;
  /** The spool file, or null to keep batches in memory only. */
  spool: string | null;
  /** Seconds to wait after a turn for another message before ending (0: end unless one is already waiting). */
  idleTimeoutSeconds: number;
  report: Reporter;
  /** Aborted by SIGINT/SIGTERM: the run ends as cancelled. */
  signal?: AbortSignal;
  shipper?: ShipperOptions;
  /** Backoff between retries (default 250 ms doubling up to 10 s). */
  retry?: { baseMs: number; maxMs: number };
  /** Long-poll wait for inputs, seconds. */
  pollSeconds?: number;
  /** Where a tailed file starts, when the spool does not say. */
  from?: number;
}

export interface Outcome {
  status: FinalStatus;
  reason?: string;
  /** 0 on success. */
  exitCode: number;
}

interface ResultLine {
  type: "result";
  subtype?: string;
  is_error?: boolean;
  result?: string;
}

export async function runSession(source: Source, opts: SessionOptions): Promise<Outcome> {
  const { report } = opts;
  const client = new RelayClient(opts.relay);
  const spool = Spool.open(opts.spool, opts.relay.runId);
  const idleMs = opts.idleTimeoutSeconds * 1000;
  const retry = opts.retry ?? DEFAULT_SHIPPER.retry;
  const turn = new TurnTracker();
  const stopInputs = new AbortController();
  let endedByUs = false;
  let idleTimer: NodeJS.Timeout | undefined;

  async function deliver(input: Input): Promise<void> {
    cancelIdle();
    if (input.kind === "interrupt") {
      turn.interrupted();
      report.info(`interrupt ${input.id} → stopping the current turn`);
      await source.interrupt(input);
    } else {
      const uuid = await source.inject(input.message!, input);
      turn.injected(uuid);
      report.info(`message ${input.id} injected`);
    }
    maybeEnd(); // an interrupt while the agent is idle changes nothing: the session may still end
  }

  function cancelIdle(): void {
    clearTimeout(idleTimer);
    idleTimer = undefined;
  }

  function maybeEnd(): void {
    if (endedByUs || !turn.idle || idleTimer) return;
    idleTimer = setTimeout(async () => {
      // With no idle timeout, still take a message that is already waiting.
      if (idleMs === 0) await inputs.poll(0).catch(() => {});
      idleTimer = undefined;
      if (!turn.idle || endedByUs) return;
      endedByUs = true;
      report.verbose("the turn is over and no input is waiting: closing the session");
      source.end();
    }, idleMs);
  }

  const inputs = new InputLoop(client, spool, deliver, report, retry);
  // Reach the relay once before starting the agent: a wrong URL or token fails here, clearly.
  if (await inputs.probe()) throw new FatalError(409, "run_ended", `run ${opts.relay.runId} has already ended on the relay`);
  report.info(`connected to ${client.runUrl}`);

  const shipper = new Shipper(client, spool, report, { ...DEFAULT_SHIPPER, retry, ...opts.shipper });
  const onAbort = () => {
    endedByUs = true;
    void source.interrupt().catch(() => {});
    source.end();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  // Start the source first (the agent exists once its first `next()` is called), then take inputs.
  const lines = source.lines(spool.offset ?? opts.from)[Symbol.asyncIterator]();
  let next = lines.next();
  const polling = inputs.run(stopInputs.signal, opts.pollSeconds ?? 25).catch((err: Error) => {
    report.error(`input loop stopped: ${err.message}`);
  });

  let sourceError: Error | undefined;
  try {
    for (let line = await next; !line.done; line = await next) {
      shipper.push(line.value.text, line.value.offset);
      if (shipper.failed) {
        endedByUs = true;
        source.end();
        await lines.return?.();
        break;
      }
      turn.observe(line.value.text);
      maybeEnd();
      next = lines.next();
    }
  } catch (err) {
    sourceError = err instanceof Error ? err : new Error(String(err));
  } finally {
    cancelIdle();
    stopInputs.abort();
    opts.signal?.removeEventListener("abort", onAbort);
  }
  await polling;
  await inputs.acknowledge().catch((err: Error) => report.verbose(`could not acknowledge the last inputs: ${err.message}`));
  try {
    await shipper.flush();
  } catch (err) {
    // Lines could not be shipped (a refusal that retrying cannot fix). Say so on the relay if it still listens.
    const reason = `the runner could not ship its output: ${(err as Error).message}`;
    await client.complete("failed", reason).catch(() => {});
    throw err;
  }
  report.info(`${shipper.shipped} line(s) shipped`);

  const outcome = decide({ signalled: opts.signal?.aborted ?? false, sourceError, endedByUs, turn });
  await retrying(() => client.complete(outcome.status, outcome.reason), retry, report);
  report.info(`run ${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ""}`);
  spool.discard();
  return outcome;
}

function decide(s: { signalled: boolean; sourceError: Error | undefined; endedByUs: boolean; turn: TurnTracker }): Outcome {
  if (s.signalled) return { status: "cancelled", reason: "the runner was stopped", exitCode: 130 };
  const last = s.turn.lastResult;
  // Closing an interrupted session can make the agent exit non-zero: that is not a failure of the run.
  if (s.sourceError && !(s.endedByUs && last)) return { status: "failed", reason: s.sourceError.message, exitCode: 1 };
  if (s.turn.lastTurnInterrupted) return { status: "cancelled", reason: "interrupted by a participant", exitCode: 1 };
  if (last?.is_error) return { status: "failed", reason: last.result ?? last.subtype ?? "the agent reported an error", exitCode: 1 };
  return { status: "completed", exitCode: 0 };
}

/** Follows turns: results, the commands the runner injected, interrupts. */
class TurnTracker {
  lastResult: ResultLine | undefined;
  lastTurnInterrupted = false;
  #resultSinceInput = false;
  #interruptPending = false;
  #pending = new Set<string>();
  #lifecycleSeen = false;

  /** The agent is idle: a turn ended and every injected message was taken up. */
  get idle(): boolean {
    return this.#resultSinceInput && (this.#pending.size === 0 || !this.#lifecycleSeen);
  }

  injected(uuid: string | undefined): void {
    if (uuid) this.#pending.add(uuid);
    this.#resultSinceInput = false;
  }

  interrupted(): void {
    this.#interruptPending = true;
  }

  observe(text: string): void {
    let line: { type?: unknown; state?: unknown; command_uuid?: unknown };
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    if (line.type === "command_lifecycle" && typeof line.command_uuid === "string") {
      this.#lifecycleSeen = true;
      if (line.state === "queued" || line.state === "started") this.#pending.add(line.command_uuid);
      else this.#pending.delete(line.command_uuid);
    } else if (line.type === "result") {
      this.lastResult = line as ResultLine;
      this.lastTurnInterrupted = this.#interruptPending;
      this.#interruptPending = false;
      this.#resultSinceInput = true;
    }
  }
}
