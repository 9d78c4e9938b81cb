/**
 * What participants send and the runner takes: accepting a message or an
 * interrupt (queued, and logged as an `input` entry so every viewer sees it
 * at once), and the runner's long-poll, which acknowledges what it injected
 * (viewers see a `delivered` entry).
 */
import type { EntryType, InputAccepted, InputEntryData, InputsReply, Limits, NewInput } from "../protocol/index.ts";
import type { InputQueue } from "./inputs.ts";
import type { EventLog, StoredEntry } from "./log.ts";
import { endedFailure, fail, utf8Length, type Failure, type Result } from "./result.ts";
import type { RunState, Subscribers } from "./subscribers.ts";

/** The parts of its run object the intake works with. */
export interface IntakeParts {
  inputs: InputQueue;
  log: EventLog;
  storage: DurableObjectStorage;
  subscribers: Subscribers;
  limits(): Limits;
  state(): RunState;
  /** A failure if the run was deleted (it can be, while a long-poll waits). */
  gone(): Failure | null;
  /** The object's write: entries plus what `alongside` records, in one transaction, then the fan-out. */
  write(runId: string, type: EntryType, data: readonly string[], bytes: number, alongside?: (firstId: number, now: number) => void): StoredEntry[];
}

export class Intake {
  constructor(private readonly run: IntakeParts) {}

  /** Queues an input for the runner. The same idempotency key always answers the same input. */
  post(runId: string, input: NewInput, key?: string): Result<InputAccepted> {
    const { inputs } = this.run;
    const known = key === undefined ? null : inputs.byKey(key);
    if (known) return { ok: true, ...known };
    const ended = endedFailure(this.run.state());
    if (ended) return ended;
    const limit = this.run.limits();
    if (input.kind === "message") {
      const size = utf8Length(JSON.stringify(input.message));
      if (size > limit.maxMessageBytes) {
        return fail(413, "message_too_large", `the message is ${size} bytes; a message may be at most ${limit.maxMessageBytes}`);
      }
    }
    if (inputs.pending() >= limit.maxPendingInputs) {
      return fail(429, "too_many_inputs", `${limit.maxPendingInputs} inputs are already waiting for the runner`);
    }
    const id = inputs.lastId() + 1;
    const json = JSON.stringify({ ...input, inputId: id } satisfies InputEntryData);
    const batch = this.run.write(runId, "input", [json], utf8Length(json), (eventId, now) => inputs.add({ ...input, id }, eventId, key, now));
    inputs.wake();
    return { ok: true, id, eventId: batch[0]!.id };
  }

  /**
   * The long-poll: acknowledges every input up to `after`, then answers at
   * once with the inputs after it, or with `ended`, or waits up to `waitMs`
   * for one to arrive.
   */
  async poll(after: number, waitMs: number): Promise<Result<InputsReply>> {
    const { inputs } = this.run;
    if (after > inputs.lastId()) {
      return fail(400, "cursor_out_of_range", `input ${after} does not exist (last input ${inputs.lastId()})`);
    }
    this.#acknowledge(after);
    for (let waited = false; ; waited = true) {
      const deleted = this.run.gone();
      if (deleted) return deleted;
      if (this.run.state().ended) return { ok: true, inputs: [], ended: true };
      const pending = inputs.after(after, this.run.limits().maxPendingInputs);
      if (pending.length > 0 || waited || waitMs === 0) return { ok: true, inputs: pending, ended: false };
      await inputs.wait(waitMs);
    }
  }

  #acknowledge(upTo: number): void {
    if (upTo === 0) return;
    const ended = this.run.state().ended;
    const now = Date.now();
    const batch = this.run.storage.transactionSync(() => {
      const ids = this.run.inputs.acknowledge(upTo, now);
      // After the end the log is closed; the acknowledgement is only recorded.
      if (ids.length === 0 || ended) return [];
      const data: InputEntryData = { kind: "delivered", inputIds: ids };
      return this.run.log.append("input", [JSON.stringify(data)], now);
    });
    this.run.subscribers.publish(batch);
  }
}
