/**
 * Claude Code's control protocol between participants and the agent. A
 * participant's `control` input (sent through the relay's remote-session API)
 * holds a `control_response` answering one of the agent's `control_request`s
 * (a `can_use_tool` permission prompt) or a client's own `control_request`
 * (`initialize`, `interrupt`, `set_permission_mode`, …). The agent's requests
 * and answers are lines it prints, shipped like any other; lines the runner
 * makes itself (its answers to clients, a permission prompt timing out, the
 * sdk source's prompts) go through `emit`, into the same stream.
 *
 * - An answer goes to the agent (exec: a line on its stdin), or settles a prompt
 *   the runner asked for the sdk source (`ask`). Each request is answered once:
 *   a redelivered answer, or one to a request the runner already settled, is ignored.
 * - `initialize`: the first is passed to the agent stripped to its subtype (a
 *   viewer must not register hooks or tools on the shared agent); every later
 *   one is answered by the runner from the agent's reply to the first.
 * - `interrupt` stops the turn in flight, as a participant's stop does; with
 *   none in flight it is answered and stops nothing.
 * - Anything else goes to an agent that answers requests itself (Claude Code),
 *   or to the source's `handle` (sdk), or gets an error reply.
 * - Permission prompts, and their timeout, are prompts.ts.
 */
import type { Input } from "../src/protocol/index.ts";
import { UndeliverableError } from "./inputs.ts";
import { errorLine, isObject, Prompts, successLine, type Ask, type ControlAnswer, type ControlRequestBody, type Json } from "./prompts.ts";
import type { Reporter } from "./report.ts";
import type { TurnTracker } from "./turns.ts";

/** How a source takes control messages (each part optional). */
export interface SourceControl {
  /** Writes a control message to the agent as one line (exec: its stdin; tail: the inbox). */
  write?(message: Json, input?: Input): Promise<void>;
  /** The agent answers the control requests written to it (Claude Code). */
  answersRequests?: boolean;
  /** A client's `interrupt` request is written to the agent, which stops its turn and answers (Claude Code's own interrupt). */
  interruptsByRequest?: boolean;
  /** Carries out a client's control request (sdk): the success reply's `response`, if any; throws for an error reply. */
  handle?(request: ControlRequestBody): Promise<Json | undefined>;
  /** Takes a line the runner made, among the source's own lines and in their order (sdk); false if it cannot (its lines ended). */
  emit?(line: string): boolean;
}

export interface ControlsOptions {
  source: { control?: SourceControl; interrupt(input?: Input): Promise<void> };
  turn: TurnTracker;
  /** Ships a line the runner made now (when the source does not take it among its own lines). */
  ship: (text: string) => void;
  report: Reporter;
  /** Deny a `can_use_tool` request no one answered within this many seconds (default: wait forever). */
  permissionTimeoutSeconds?: number | undefined;
}

export class Controls {
  readonly #o: ControlsOptions;
  readonly #prompts: Prompts;
  /** Request ids of the clients' requests handled: a redelivered one is ignored. */
  #handled = new Set<string>();
  /** The first `initialize`, passed to the agent, and its reply's `response` (settled once). */
  #init: { requestId: string; reply: Promise<Json>; settle: (body: Json | Error) => void; settled: boolean } | undefined;
  /** Asks participants for the source (sdk's `canUseTool`): see prompts.ts. */
  readonly ask: Ask;

  constructor(opts: ControlsOptions) {
    this.#o = opts;
    const write = (message: Json) => opts.source.control?.write?.(message) ?? Promise.reject(new Error("the agent takes no control messages"));
    this.#prompts = new Prompts({ emit: (line) => this.#emit(line), write, report: opts.report, timeoutSeconds: opts.permissionTimeoutSeconds });
    this.ask = this.#prompts.ask;
  }

  /** A participant's control input. Throws (the input is reported undelivered) for one the agent cannot take. */
  async deliver(input: Input): Promise<void> {
    const payload = input.payload;
    if (payload?.type === "control_response" && isObject(payload.response) && typeof payload.response.request_id === "string") {
      return this.#answer(payload.response as ControlAnswer, input);
    }
    if (payload?.type === "control_request" && typeof payload.request_id === "string" && isObject(payload.request) && typeof payload.request.subtype === "string") {
      return this.#request(payload.request_id, payload.request as ControlRequestBody, payload, input);
    }
    throw new UndeliverableError("not_a_control_message");
  }

  /** Every line the agent printed: its permission prompts (for the timeout), cancels, and its reply to the first `initialize`. */
  observe(text: string): void {
    if (!text.includes('"control_')) return; // most lines: no need to parse
    let line: Json;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    if (line.type === "control_request" && typeof line.request_id === "string" && isObject(line.request)) {
      if (line.request.subtype === "can_use_tool") this.#prompts.asked(line.request_id);
    } else if (line.type === "control_cancel_request" && typeof line.request_id === "string") {
      this.#prompts.cancelled(line.request_id);
    } else if (line.type === "control_response" && isObject(line.response) && this.#init && !this.#init.settled && line.response.request_id === this.#init.requestId) {
      const r = line.response;
      this.#init.settled = true;
      this.#init.settle(r.subtype === "success" ? (isObject(r.response) ? r.response : {}) : new Error(String(r.error ?? "the agent refused initialize")));
    }
  }

  /** The session is over: see Prompts.close. */
  close(): void {
    this.#prompts.close();
  }

  /** A line the runner made: among the source's own lines if it takes them (in their order), else shipped now. */
  #emit(line: Json): void {
    const text = JSON.stringify(line);
    if (!this.#o.source.control?.emit?.(text)) this.#o.ship(text);
  }

  async #answer(answer: ControlAnswer, input: Input): Promise<void> {
    const id = answer.request_id;
    const { report } = this.#o;
    const write = this.#o.source.control?.write;
    const to = this.#prompts.answered(answer);
    if (to === "settled") return report.info(`control ${input.id}: request ${id} was already settled; this answer is ignored`);
    if (to === "taken") return report.info(`control ${input.id}: answer to ${id}`);
    if (!write) throw new UndeliverableError(`no_such_request: the agent is not waiting for ${id.slice(0, 128)}`);
    await write({ type: "control_response", response: answer }, input);
    report.info(`control ${input.id}: answer to ${id} passed to the agent`);
  }

  async #request(id: string, request: ControlRequestBody, payload: Json, input: Input): Promise<void> {
    const { report, turn, source } = this.#o;
    const emit = (line: Json) => this.#emit(line);
    const c = source.control ?? {};
    if (this.#handled.has(id)) return report.info(`control ${input.id}: request ${id} was already handled; ignored`);
    this.#handled.add(id);
    const agentAnswers = c.answersRequests === true && c.write !== undefined;
    if (request.subtype === "interrupt") {
      if (!turn.interrupted()) {
        report.info(`control ${input.id}: interrupt, but no turn in flight, nothing to stop`);
        return emit(successLine(id));
      }
      report.info(`control ${input.id}: interrupt → stopping the current turn`);
      if (c.interruptsByRequest && c.write) return c.write(payload, input);
      await source.interrupt(input);
      return emit(successLine(id));
    }
    if (request.subtype === "initialize" && agentAnswers) return this.#initialize(id, input, c.write!);
    if (agentAnswers) {
      await c.write!(payload, input);
      return report.info(`control ${input.id}: ${request.subtype} passed to the agent`);
    }
    if (!c.handle) return emit(errorLine(id, `${request.subtype} is not supported: this runner's agent does not take control requests`));
    try {
      emit(successLine(id, await c.handle(request)));
      report.info(`control ${input.id}: ${request.subtype} done`);
    } catch (err) {
      emit(errorLine(id, err instanceof Error ? err.message : String(err)));
    }
  }

  /** The first `initialize` goes to the agent, stripped; later ones are answered from its reply (once it has come). */
  async #initialize(id: string, input: Input, write: NonNullable<SourceControl["write"]>): Promise<void> {
    const first = this.#init;
    if (first) {
      first.reply.then(
        (body) => this.#emit(successLine(id, body)),
        (err: Error) => this.#emit(errorLine(id, err.message)),
      );
      return this.#o.report.info(`control ${input.id}: initialize, answered from the agent's reply to the first`);
    }
    let settle!: (body: Json | Error) => void;
    const reply = new Promise<Json>((resolve, reject) => {
      settle = (body) => {
        // A refused first initialize is not remembered: the next one goes to the agent again.
        if (body instanceof Error) this.#init = undefined;
        return body instanceof Error ? reject(body) : resolve(body);
      };
    });
    reply.catch(() => {});
    this.#init = { requestId: id, reply, settle, settled: false };
    try {
      await write({ type: "control_request", request_id: id, request: { subtype: "initialize" } }, input);
    } catch (err) {
      this.#init = undefined;
      throw err;
    }
    this.#o.report.info(`control ${input.id}: initialize passed to the agent`);
  }
}
