/**
 * A run's session: reads the source's stream-json lines and ships them, feeds
 * the source what participants send, decides when the session is over, and
 * ends the run on the relay with the right status.
 *
 * When is it over? In streaming-input mode the agent keeps its session open as
 * long as its input is open. The runner closes the input once the agent is
 * idle (turns.ts: a turn's `result` has arrived and every message it injected
 * has been taken up) and no further input arrives within the idle timeout.
 *
 * A restart on the same spool resends what the relay did not acknowledge,
 * claims a new producer epoch (fencing any other runner of the run), and
 * resumes the agent's session (the id the spool recorded from its first
 * `system/init` line) instead of sending the prompt again.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Input } from "../src/protocol/index.ts";
import { stopLeftoverAgents, agentMarker } from "./agents.ts";
import { Controls } from "./control.ts";
import { heartbeatLoop } from "./heartbeat.ts";
import { InputLoop, StopDelivering, UndeliverableError } from "./inputs.ts";
import { lockSpool } from "./lock.ts";
import { decide, type Outcome } from "./outcome.ts";
import { checkRelayOptions, FatalError, RelayClient, retrying, type RelayOptions } from "./relay.ts";
import type { Reporter } from "./report.ts";
import { DEFAULT_SHIPPER, Shipper, TookOverError, type ShipperOptions } from "./shipper.ts";
import type { Source } from "./source.ts";
import { Spool } from "./spool.ts";
import { initSessionId, TurnTracker } from "./turns.ts";

// A source's contract (source.ts) and a session's outcome (outcome.ts) are imported from here too.
export type { Source, SourceLine, SourceStart } from "./source.ts";
export type { Outcome } from "./outcome.ts";

export interface SessionOptions {
  relay: RelayOptions;
  /** The spool file, or null to keep batches in memory only. */
  spool: string | null;
  /** Seconds to wait after a turn for another message before ending (0: end unless one is already waiting). */
  idleTimeoutSeconds: number;
  report: Reporter;
  /** Aborted by SIGINT/SIGTERM: the run ends as cancelled. */
  signal?: AbortSignal;
  shipper?: Partial<ShipperOptions>;
  /** Backoff between retries (default 250 ms doubling up to 10 s). */
  retry?: { baseMs: number; maxMs: number };
  /** Long-poll wait for inputs, seconds (the relay caps it at a third of its runner lease). */
  pollSeconds?: number;
  /** Where a tailed file starts, when the spool does not say. */
  from?: number;
  /** Deny a permission prompt no one answered within this many seconds (default: wait forever). */
  permissionTimeoutSeconds?: number;
}

export async function runSession(source: Source, opts: SessionOptions): Promise<Outcome> {
  checkRelayOptions(opts.relay);
  // One runner per spool, checked before anything is sent.
  if (opts.spool) mkdirSync(dirname(opts.spool), { recursive: true });
  const lock = opts.spool ? lockSpool(opts.spool) : null;
  try {
    if (lock?.tookOverFrom !== undefined) opts.report.verbose(`took over the spool's lock from process ${lock.tookOverFrom}, which is gone`);
    return await session(source, opts);
  } catch (err) {
    if (opts.spool) Spool.discardIfBlank(opts.spool);
    throw err;
  } finally {
    lock?.release();
  }
}

async function session(source: Source, opts: SessionOptions): Promise<Outcome> {
  const { report } = opts;
  const runId = opts.relay.runId;
  const client = new RelayClient(opts.relay);
  const spool = Spool.open(opts.spool, runId);
  const resume = source.resumable ? spool.session : undefined;
  const idleMs = opts.idleTimeoutSeconds * 1000;
  const retry = opts.retry ?? DEFAULT_SHIPPER.retry;
  const turn = new TurnTracker({ idle: resume !== undefined });
  const stopInputs = new AbortController();
  const stopHeartbeat = new AbortController();
  let endedByUs = false;
  let stopped: Error | undefined; // why the shipper stopped, if it did
  let idleTimer: NodeJS.Timeout | undefined;

  async function deliver(input: Input): Promise<void> {
    // Another runner owns the run now: its inputs are its to deliver.
    if (stopped instanceof TookOverError) throw new StopDelivering();
    // After the session closed nothing reaches the agent: say so instead of leaving it queued.
    if (endedByUs) throw new UndeliverableError("session_closed");
    cancelIdle();
    if (input.kind === "control") {
      await controls.deliver(input);
    } else if (input.kind === "interrupt") {
      if (turn.interrupted()) {
        report.info(`interrupt ${input.id} → stopping the current turn`);
        await source.interrupt(input);
      } else {
        report.info(`interrupt ${input.id}: no turn in flight, nothing to stop`);
      }
    } else {
      const uuid = await source.inject(input.message!, input);
      turn.injected(uuid);
      report.info(`message ${input.id} injected`);
    }
    maybeEnd();
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
      report.verbose("the agent is idle and no input is waiting: closing the session");
      source.end();
    }, idleMs);
  }

  const inputs = new InputLoop(client, spool, deliver, report, retry);
  // Reach the relay once before starting the agent: a wrong URL or token fails here, clearly.
  if (await inputs.probe()) throw new FatalError(409, "run_ended", `run ${runId} has already ended on the relay`);
  report.info(`connected to ${client.runUrl}`);
  const heartbeat = heartbeatLoop(client, report, stopHeartbeat.signal);

  /** The runner cannot go on (the shipper failed, or another runner took over): stop the agent. */
  const stop = (err: Error) => {
    stopped = err;
    if (err instanceof TookOverError) stopInputs.abort();
    endedByUs = true;
    cancelIdle();
    void source.interrupt().catch(() => {});
    source.end();
  };
  const shipper = new Shipper(client, spool, report, { ...DEFAULT_SHIPPER, retry, ...opts.shipper }, stop);
  // Participants' control messages (control.ts); the lines the runner makes are shipped like the agent's.
  const ship = (text: string) => void (stopped || shipper.push(text));
  const controls = new Controls({ source, turn, report, ship, permissionTimeoutSeconds: opts.permissionTimeoutSeconds });
  try {
    // What an earlier runner left unacknowledged goes first, under its own epochs; then this
    // runner claims the next epoch, which fences every other runner of the run.
    await shipper.resend();
    const epoch = await retrying(() => client.claim(spool.producerId), retry, report);
    spool.claimed(epoch);
    report.verbose(`producer ${spool.producerId}, epoch ${epoch}`);
  } catch (err) {
    stopHeartbeat.abort();
    await heartbeat;
    throw err;
  }

  const onAbort = () => {
    endedByUs = true;
    cancelIdle();
    void source.interrupt().catch(() => {});
    source.end();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  // A crashed runner's agent must not go on beside the new one (it would carry on the turn in flight).
  await stopLeftoverAgents(runId, report);
  if (resume) report.info(`resuming session ${resume}`);
  // Start the source first (the agent exists once its first `next()` is called), then take inputs.
  const lines = source
    .lines(spool.offset ?? opts.from, { ...(resume && { resume }), env: agentMarker(runId), ask: controls.ask })
    [Symbol.asyncIterator]();
  let next = lines.next();
  const polling = inputs.run(stopInputs.signal, opts.pollSeconds ?? 25).catch((err: Error) => {
    // The relay refuses the polls of a runner whose epoch another runner has claimed.
    if (err instanceof FatalError && err.code === "stale_producer_epoch") return stop(new TookOverError(runId));
    report.error(`input loop stopped: ${err.message}`);
  });
  if (resume) maybeEnd(); // a resumed agent is idle until a message comes

  let sourceError: Error | undefined;
  try {
    for (let line = await next; !line.done; line = await lines.next()) {
      const { text, offset } = line.value;
      if (stopped) continue; // drain what the agent still prints while it stops; it goes nowhere
      if (spool.session === undefined) {
        const id = initSessionId(text);
        if (id) spool.recordSession(id);
      }
      shipper.push(text, offset);
      turn.observe(text);
      controls.observe(text);
      maybeEnd();
      await shipper.room(); // read no further ahead of the relay than the backlog allows
    }
  } catch (err) {
    sourceError = err instanceof Error ? err : new Error(String(err));
  } finally {
    cancelIdle();
    controls.close();
    stopInputs.abort();
    opts.signal?.removeEventListener("abort", onAbort);
  }
  try {
    await polling;
    if (stopped instanceof TookOverError) throw stopped; // the new runner owns the run: no complete, the spool stays
    await inputs.acknowledge().catch((err: Error) => report.verbose(`could not acknowledge the last inputs: ${err.message}`));
    try {
      await shipper.flush();
    } catch (err) {
      if (err instanceof TookOverError) throw err;
      // Lines could not be shipped (a refusal that retrying cannot fix). Say so on the relay if it still listens.
      const reason = `the runner could not ship its output: ${(err as Error).message}`;
      await client.complete("failed", reason).catch(() => {});
      throw err;
    }
    report.info(`${shipper.shipped} line(s) shipped${client.renewals > 0 ? `; the token was renewed ${client.renewals} time(s)` : ""}`);

    const outcome = decide({ signalled: opts.signal?.aborted ?? false, sourceError, endedByUs, turn });
    await retrying(() => client.complete(outcome.status, outcome.reason), retry, report);
    report.info(`run ${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ""}`);
    spool.discard();
    return outcome;
  } finally {
    stopHeartbeat.abort();
    await heartbeat;
  }
}
