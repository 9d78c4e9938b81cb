/**
 * The agent's control requests, read from the log: Claude Code asks permission
 * to use a tool (a `can_use_tool` prompt, also how it asks AskUserQuestion) by
 * printing a `control_request` line, which the runner relays like any line.
 * A request is pending until one of these, with its `request_id`, is in the log:
 *
 * - a participant's answer: an `input` entry `{ kind: "control", payload: { type: "control_response", … } }`;
 * - the runner's own answer (e.g. after its permission timeout): an `sdk` `control_response` line;
 * - the agent withdrawing it: an `sdk` `control_cancel_request` line.
 *
 *   const requests = new ControlRequests();
 *   run.on("entry", (e) => requests.entry(e));     // what `connect()` does for `run.pending` and `on("request")`
 *
 * Answering is `run.respond(requestId, decision)`, with `allow()`, `deny()` or `answerQuestions()`.
 */

/** Where a permission update is kept: `session` lasts for this session; the settings files keep it. */
export type PermissionDestination = "userSettings" | "projectSettings" | "localSettings" | "session" | "cliArg";
export type PermissionRule = { toolName: string; ruleContent?: string };

/** A permission suggestion (Claude Code's `PermissionUpdate`): send it back in `updatedPermissions` to apply it. */
export type PermissionUpdate =
  | { type: "addRules" | "replaceRules" | "removeRules"; rules: PermissionRule[]; behavior: "allow" | "deny" | "ask"; destination: PermissionDestination }
  | { type: "setMode"; mode: string; destination: PermissionDestination }
  | { type: "addDirectories" | "removeDirectories"; directories: string[]; destination: PermissionDestination };

/** An answer to a `can_use_tool` prompt (Claude Code's `PermissionResult`). */
export type PermissionDecision =
  | { behavior: "allow"; updatedInput: Record<string, unknown>; updatedPermissions?: PermissionUpdate[] }
  | { behavior: "deny"; message: string; interrupt?: boolean };

/** A `can_use_tool` request's fields (Claude Code's `SDKControlPermissionRequest`; unknown fields pass through). */
export interface CanUseTool {
  subtype: "can_use_tool";
  tool_name: string;
  display_name?: string;
  title?: string;
  input: Record<string, unknown>;
  description?: string;
  permission_suggestions?: PermissionUpdate[];
  decision_reason?: string;
  blocked_path?: string;
  tool_use_id?: string;
  [field: string]: unknown;
}

/** One question of an AskUserQuestion prompt. */
export interface Question {
  question: string;
  header?: string;
  options: { label: string; description?: string }[];
  multiSelect?: boolean;
}

/** How a request was settled. `own`: the answer was sent by this connection's `respond()`. */
export type RequestOutcome =
  | { kind: "answered"; by: "participant" | "runner"; decision?: PermissionDecision; error?: string; entryId: number; own: boolean }
  | { kind: "cancelled"; entryId: number; own: false };

export interface ControlRequest {
  requestId: string;
  /** `can_use_tool` for a permission prompt (see `permissionOf`); other subtypes are passed through. */
  subtype: string;
  /** The request as the agent sent it. */
  request: Record<string, unknown> & { subtype: string };
  /** The log id of the `control_request` line. */
  entryId: number;
  /** Set once it is settled; absent while it is pending. */
  outcome?: RequestOutcome;
}

/** What `respond()` resolves with: the answer as the relay stored it. */
export interface RequestAnswered {
  /** The log id of the answer's `input` entry. */
  eventId: number;
  /** The answer's uuid (it made the POST idempotent). */
  uuid: string;
}

type Json = Record<string, unknown>;
type Fold = { id: number; type: string; data: Json };
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A request's `can_use_tool` fields, if it is a permission prompt. */
export function permissionOf(r: ControlRequest): CanUseTool | undefined {
  const q = r.request;
  return q.subtype === "can_use_tool" && typeof q.tool_name === "string" ? ({ ...q, input: isObject(q.input) ? q.input : {} } as CanUseTool) : undefined;
}

/** An AskUserQuestion prompt's questions (empty for any other request). */
export function questionsOf(r: ControlRequest): Question[] {
  const p = permissionOf(r);
  const questions = p?.tool_name === "AskUserQuestion" ? p.input.questions : undefined;
  return Array.isArray(questions) ? questions.filter((q): q is Question => isObject(q) && typeof q.question === "string" && Array.isArray(q.options)) : [];
}

/** Allow the tool to run with its input as asked; `updatedPermissions` applies suggestions (e.g. "allow edits for this session"). */
export function allow(r: ControlRequest, opts: { updatedPermissions?: PermissionUpdate[]; updatedInput?: Record<string, unknown> } = {}): PermissionDecision {
  const updatedInput = opts.updatedInput ?? permissionOf(r)?.input ?? {};
  return { behavior: "allow", updatedInput, ...(opts.updatedPermissions?.length && { updatedPermissions: opts.updatedPermissions }) };
}

/** Refuse; the agent reads `message`. */
export function deny(message = "The user denied this request.", opts: { interrupt?: boolean } = {}): PermissionDecision {
  return { behavior: "deny", message, ...(opts.interrupt && { interrupt: true }) };
}

/** Answer an AskUserQuestion prompt: question text → chosen label (several labels of a multiSelect are comma-joined). */
export function answerQuestions(r: ControlRequest, answers: Record<string, string | string[]>): PermissionDecision {
  const joined = Object.fromEntries(Object.entries(answers).map(([q, a]) => [q, Array.isArray(a) ? a.join(", ") : a]));
  return allow(r, { updatedInput: { ...permissionOf(r)?.input, answers: joined } });
}

/** The payload a participant posts to answer `requestId` (to `…/session/events`, in `{ session_id, events: [{ payload }] }`). */
export function answerPayload(requestId: string, decision: PermissionDecision, uuid: string): Json {
  return { type: "control_response", response: { subtype: "success", request_id: requestId, response: decision }, uuid };
}

/** A random UUID (v4), also where `crypto.randomUUID` is missing (a page served over plain http). */
export function newUuid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The agent's control requests in a run, folded from its entries in id order. */
export class ControlRequests {
  /** Every request seen, by its request id. */
  readonly byId = new Map<string, ControlRequest>();
  /** The uuids of answers this client sent. */
  readonly #own = new Set<string>();

  /** Every request seen, in the order asked. */
  get all(): ControlRequest[] {
    return [...this.byId.values()];
  }

  /** The requests waiting for an answer, oldest first. */
  get pending(): ControlRequest[] {
    return this.all.filter((r) => !r.outcome);
  }

  /** Remember an answer this client is sending, so its outcome says `own`. */
  sending(uuid: string): void {
    this.#own.add(uuid);
  }

  /** Folds an entry; returns the request it opened or settled, if any (other control messages change nothing). */
  entry(e: Fold): ControlRequest | undefined {
    const d = e.data;
    if (e.type === "sdk" && d.type === "control_request" && typeof d.request_id === "string" && isObject(d.request)) {
      if (this.byId.has(d.request_id)) return undefined;
      const request = { ...d.request, subtype: String(d.request.subtype ?? "") };
      const r: ControlRequest = { requestId: d.request_id, subtype: request.subtype, request, entryId: e.id };
      this.byId.set(r.requestId, r);
      return r;
    }
    if (e.type === "sdk" && d.type === "control_cancel_request" && typeof d.request_id === "string") {
      return this.#settle(d.request_id, { kind: "cancelled", entryId: e.id, own: false });
    }
    const participant = e.type === "input" && d.kind === "control" && isObject(d.payload);
    const line = participant ? (d.payload as Json) : e.type === "sdk" ? d : undefined;
    if (line?.type !== "control_response" || !isObject(line.response) || typeof line.response.request_id !== "string") return undefined;
    const response = line.response;
    // The relay refuses a participant's `error` response (it does not answer); the runner's settles the request.
    if (participant && response.subtype !== "success") return undefined;
    return this.#settle(response.request_id as string, {
      kind: "answered",
      by: participant ? "participant" : "runner",
      ...(isObject(response.response) && { decision: response.response as PermissionDecision }),
      ...(typeof response.error === "string" && { error: response.error }),
      entryId: e.id,
      own: participant && typeof line.uuid === "string" && this.#own.has(line.uuid),
    });
  }

  #settle(requestId: string, outcome: RequestOutcome): ControlRequest | undefined {
    const r = this.byId.get(requestId);
    if (!r || r.outcome) return undefined; // an answer to someone else's request (e.g. `initialize`), or a late one
    r.outcome = outcome;
    return r;
  }
}
