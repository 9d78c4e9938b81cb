/**
 * What participants send and the runner takes: accepting a message or an
 * interrupt (queued, and logged as an `input` entry so every viewer sees it
 * at once), the runner's long-poll, which acknowledges what it injected
 * (viewers see a `delivered` entry), and inputs the runner gives up on
 * (viewers see an `undelivered` entry).
 */
import type { InputAccepted, InputEntryData, InputText, Limits, NewInput } from "../protocol/index.ts";
import type { ControlRequests } from "./controls.ts";
import type { InputQueue } from "./inputs.ts";
import type { EventLog, NewEntry, Write } from "./log.ts";
import { endedFailure, fail, utf8Length, type Failure, type Result } from "./result.ts";
import type { Publisher } from "./publisher.ts";
import type { RunState } from "./subscribers.ts";

/** The parts of its run object the intake works with. */
export interface IntakeParts {
  inputs: InputQueue;
  controls: ControlRequests;
  log: EventLog;
  storage: DurableObjectStorage;
  publisher: Pick<Publisher, "publish">;
  limits(): Limits;
  state(): RunState;
  /** A failure if the run was deleted (it can be, while a long-poll waits). */
  gone(): Failure | null;
  write: Write;
}

/** The request a participant's `control_response` answers, if the input is one. */
const answerOf = (input: NewInput): string | undefined =>
  input.kind === "control" && input.payload.type === "control_response"
    ? (input.payload.response as { request_id: string }).request_id
    : undefined;

/** The `input` entry saying these inputs will never reach the agent. */
export function undeliveredEntry(inputIds: number[], reason: string): NewEntry {
  return { type: "input", data: JSON.stringify({ kind: "undelivered", inputIds, reason } satisfies InputEntryData) };
}

export class Intake {
  constructor(private readonly run: IntakeParts) {}

  /** Queues an input for the runner. The same idempotency key always answers the same input. */
  post(runId: string, input: NewInput, key?: string): Result<InputAccepted> {
    const { inputs } = this.run;
    const known = key === undefined ? null : inputs.byKey(key);
    if (known) return { ok: true, ...known };
    const refused = this.check(input);
    if (refused) return refused;
    const id = inputs.lastId() + 1;
    // A message carries a uuid to the agent, so its progress (`command_lifecycle`) can be told apart.
    const queued = input.kind === "message" && input.uuid === undefined ? { ...input, uuid: crypto.randomUUID() } : input;
    const data = JSON.stringify({ ...queued, inputId: id } satisfies InputEntryData);
    const answers = answerOf(input);
    const batch = this.run.write(runId, [{ type: "input", data }], {
      alongside: (eventId, now) => {
        inputs.add({ ...queued, id }, eventId, key, now);
        if (answers !== undefined) this.run.controls.answer(answers);
      },
    });
    inputs.wake();
    return { ok: true, id, eventId: batch[0]!.id };
  }

  /**
   * Several inputs at once (a remote-session POST): each is checked before any
   * is queued, so a refusal changes nothing. Keys already used answer their input.
   */
  postAll(runId: string, items: readonly { input: NewInput; key: string }[]): Result<{ accepted: InputAccepted[] }> {
    const answered = new Set<string>();
    for (const { input, key } of items) {
      if (this.run.inputs.byKey(key)) continue;
      const refused = this.check(input);
      if (refused) return refused;
      const answer = answerOf(input);
      if (answer !== undefined && answered.has(answer)) return fail(409, "request_settled", `request ${answer} is answered twice in one post`);
      if (answer !== undefined) answered.add(answer);
    }
    const accepted: InputAccepted[] = [];
    for (const { input, key } of items) {
      const result = this.post(runId, input, key);
      if (!result.ok) return result;
      accepted.push({ id: result.id, eventId: result.eventId });
    }
    return { ok: true, accepted };
  }

  /** Why the run cannot take this input now, if it cannot (nothing is changed). */
  check(input: NewInput): Failure | null {
    const ended = endedFailure(this.run.state());
    if (ended) return ended;
    const limit = this.run.limits();
    const body = input.kind === "message" ? input.message : input.kind === "control" ? input.payload : undefined;
    if (body !== undefined) {
      // A control message may repeat a tool's whole input (an `updatedInput`): it is bounded like an agent line.
      const max = input.kind === "control" ? limit.maxLineBytes : limit.maxMessageBytes;
      const size = utf8Length(JSON.stringify(body));
      if (size > max) return fail(413, "message_too_large", `the ${input.kind} is ${size} bytes; it may be at most ${max}`);
    }
    if (input.kind === "control" && input.payload.type === "control_response") {
      const response = input.payload.response as { request_id: string; subtype: string };
      const refused = this.run.controls.check(response.request_id);
      if (refused) return refused;
      if (response.subtype !== "success") {
        return fail(422, "not_an_answer", "an error response does not answer the agent; the request stays open for a participant who can answer it");
      }
    }
    if (this.run.inputs.pending() >= limit.maxPendingInputs) {
      return fail(429, "too_many_inputs", `${limit.maxPendingInputs} inputs are already waiting for the runner`);
    }
    return null;
  }

  /**
   * The long-poll: acknowledges every input up to `after`, then answers at
   * once with the inputs after it, or with `ended`, or waits up to `waitMs`
   * for one to arrive. Inputs come back as stored text: nothing between the
   * acknowledgement and the answer parses or re-serialises them.
   */
  async poll(after: number, waitMs: number): Promise<Result<{ inputs: InputText[]; ended: boolean }>> {
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

  /** The runner will never deliver these inputs: those still queued leave the queue, logged in one `undelivered` entry. */
  undeliver(runId: string, inputIds: number[], reason: string): Result<{ lastEventId: number }> {
    const batch = this.run.write(runId, (now) => {
      const ids = this.run.inputs.undeliver(now, inputIds);
      return ids.length === 0 ? [] : [undeliveredEntry(ids, reason)];
    });
    return { ok: true, lastEventId: batch.at(-1)?.id ?? this.run.log.lastId() };
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
      return this.run.log.append([{ type: "input", data: JSON.stringify(data) }], now);
    });
    this.run.publisher.publish(batch);
  }
}
