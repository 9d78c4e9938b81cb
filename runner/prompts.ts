/**
 * Permission prompts, and the control protocol's wire form (control.ts uses
 * both). A prompt is the agent's `can_use_tool` request (exec: a line Claude
 * Code prints) or one the runner asks for the sdk source (its `canUseTool`,
 * shipped in the same form). Each is settled once: by the first participant's
 * answer, by the runner's denial once the permission timeout has passed
 * (written to the agent, and shipped so the relay settles it and viewers see
 * it), or by a cancel. An answer to a settled prompt is ignored.
 */
import { randomUUID } from "node:crypto";
import type { Reporter } from "./report.ts";

export type Json = Record<string, unknown>;

/** A control request's `request`: its subtype and fields. */
export type ControlRequestBody = Json & { subtype: string };

/** A control response's `response`: `{subtype: "success", request_id, response?}` or `{subtype: "error", request_id, error}`. */
export type ControlAnswer = Json & { subtype: string; request_id: string; response?: unknown; error?: unknown };

/** Asks participants a control request for the source (sdk's `canUseTool`): resolves with their answer, or undefined if given up. */
export type Ask = (request: ControlRequestBody, signal?: AbortSignal) => Promise<ControlAnswer | undefined>;

export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export const successLine = (requestId: string, response?: Json): Json => ({
  type: "control_response",
  response: { subtype: "success", request_id: requestId, ...(response !== undefined && { response }) },
});
export const errorLine = (requestId: string, error: string): Json => ({
  type: "control_response",
  response: { subtype: "error", request_id: requestId, error },
});

export interface PromptsOptions {
  /** Ships a line the runner made. */
  emit: (line: Json) => void;
  /** Writes the runner's denial of the agent's prompt to the agent (exec: its stdin). */
  write: (message: Json) => Promise<void>;
  report: Reporter;
  /** Deny a prompt no one answered within this many seconds (default: wait forever). */
  timeoutSeconds?: number | undefined;
}

export class Prompts {
  readonly #o: PromptsOptions;
  /** Prompts answered, denied or cancelled: a later answer is ignored. */
  #settled = new Set<string>();
  /** The runner's own prompts: not the agent's, so no clock of their own when their line comes back. */
  #own = new Set<string>();
  /** The agent's prompts waiting, with their clocks. */
  #timers = new Map<string, NodeJS.Timeout>();
  /** The runner's prompts waiting for their answer. */
  #asks = new Map<string, (answer: ControlAnswer | undefined) => void>();

  constructor(opts: PromptsOptions) {
    this.#o = opts;
  }

  /** The agent asked (a line it printed): with a permission timeout, the clock starts. */
  asked(id: string): void {
    const seconds = this.#o.timeoutSeconds;
    if (seconds === undefined || this.#own.has(id) || this.#settled.has(id) || this.#timers.has(id)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      const denial = this.#deny(id);
      this.#o.write({ type: "control_response", response: denial }).catch((err: Error) => {
        this.#o.report.error(`could not deny permission request ${id}: ${err.message}`);
      });
    }, seconds * 1000);
    this.#timers.set(id, timer);
  }

  /** The agent cancelled its request. */
  cancelled(id: string): void {
    this.#stop(id);
    this.#settled.add(id);
  }

  /**
   * A participant's answer: `settled` if its prompt already was (ignore it), `taken` if it settled one
   * of the runner's own prompts, `agent` if it is for the agent (its clock stops; pass it on).
   */
  answered(answer: ControlAnswer): "settled" | "taken" | "agent" {
    const id = answer.request_id;
    if (this.#settled.has(id)) return "settled";
    const ask = this.#asks.get(id);
    if (ask) return ask(answer), "taken";
    this.#stop(id);
    this.#settled.add(id);
    return "agent";
  }

  /**
   * Asks participants for the source: ships the request with a new request_id and resolves with the
   * first answer, the runner's denial after the permission timeout, or undefined once `signal` aborts
   * (a `control_cancel_request` is shipped) or the session ends.
   */
  ask: Ask = (request, signal) => {
    if (signal?.aborted) return Promise.resolve(undefined);
    const id = randomUUID();
    this.#own.add(id);
    return new Promise((resolve) => {
      const done = (answer: ControlAnswer | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#asks.delete(id);
        this.#settled.add(id);
        resolve(answer);
      };
      const onAbort = () => {
        this.#o.emit({ type: "control_cancel_request", request_id: id });
        done(undefined);
      };
      const seconds = this.#o.timeoutSeconds;
      const timer = seconds === undefined ? undefined : setTimeout(() => done(this.#deny(id)), seconds * 1000);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#asks.set(id, done);
      this.#o.emit({ type: "control_request", request_id: id, request });
    });
  };

  /** The session is over: no clock runs on, and a prompt of the runner's still waiting is given up. */
  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const done of [...this.#asks.values()]) done(undefined);
  }

  /** The runner's denial of a prompt no one answered in time, shipped. */
  #deny(id: string): ControlAnswer {
    const seconds = this.#o.timeoutSeconds;
    this.#settled.add(id);
    this.#o.report.info(`permission request ${id}: no answer within ${seconds} s, denied`);
    const line = successLine(id, { behavior: "deny", message: `no one answered the permission prompt within ${seconds} s` });
    this.#o.emit(line);
    return line.response as ControlAnswer;
  }

  #stop(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }
}

/** What the sdk source's `canUseTool` returns for an answer (undefined: given up). Shaped as the SDK's `PermissionResult`. */
export function permissionResult(
  answer: ControlAnswer | undefined,
  input: Json,
): { behavior: "allow"; updatedInput: Json; updatedPermissions?: unknown[] } | { behavior: "deny"; message: string; interrupt?: true } {
  if (!answer) return { behavior: "deny", message: "the permission prompt was cancelled" };
  if (answer.subtype !== "success") return { behavior: "deny", message: `the permission prompt failed: ${String(answer.error ?? "an error")}` };
  const r = isObject(answer.response) ? answer.response : {};
  if (r.behavior === "allow") {
    return { behavior: "allow", updatedInput: isObject(r.updatedInput) ? r.updatedInput : input, ...(Array.isArray(r.updatedPermissions) && { updatedPermissions: r.updatedPermissions }) };
  }
  return { behavior: "deny", message: typeof r.message === "string" ? r.message : "denied by a participant", ...(r.interrupt === true && { interrupt: true as const }) };
}
