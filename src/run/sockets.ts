/**
 * The run object's WebSocket side: upgrades for viewers and for the Worker's
 * SSE bridges, and the frames WebSocket viewers send (resume, message,
 * interrupt, and the `ack`s of flow control, which the bridges send too).
 * Inputs go through the same `postInput` as `POST /messages`. A frame is
 * checked as HTTP bodies are: valid UTF-8, nested at most MAX_JSON_DEPTH
 * levels (on the raw text, before it is parsed), then JSON.
 */
import {
  ackOf,
  ClientFrame,
  issueOf,
  nestsDeeperThan,
  SESSION_CATCH_UP_TRUNCATED,
  toUserMessage,
  tooDeepMessage,
  type ErrorInfo,
  type InputAccepted,
  type Limits,
  type NewInput,
  type ServerFrame,
} from "../protocol/index.ts";
import { fail, failureResponse, type Failure, type Result } from "./result.ts";
import { parseSubscribe, type SubscribeParams } from "./subscribe.ts";
import type { RunState, Subscribers } from "./subscribers.ts";

/** What the socket side needs from its run object. */
export interface SocketHost {
  subscribers(): Subscribers;
  /** A failure if the run was deleted. */
  gone(): Failure | null;
  state(): RunState;
  limits(): Limits;
  /** A fan-out shard (shard.ts) posts to its run object over RPC. */
  postInput(runId: string, input: NewInput): Result<InputAccepted> | Promise<Result<InputAccepted>>;
  /** Where a new viewer goes if not here (shards.ts): a response for the Worker, or null to accept it here. */
  route?(sub: SubscribeParams & { after: number }, truncated: boolean): Promise<Response> | null;
}

export const cursorPastEnd = (after: number, lastId: number) =>
  after > lastId ? fail(400, "cursor_out_of_range", `cursor ${after} is past the end of the log (last id ${lastId})`) : null;

/** A subscription upgrade: `?transport=ws|sse&after=<cursor>&run&scope&exp` (see subscribe.ts). */
export function upgrade(host: SocketHost, request: Request): Response | Promise<Response> {
  const sub = parseSubscribe(request);
  if (!sub) return failureResponse(fail(400, "bad_request", "not a subscription request"));
  const gone = host.gone();
  if (gone) return failureResponse(gone);
  const { lastId, ended } = host.state();
  let after = sub.after === "live" ? lastId : sub.after;
  // A remote-session client past the end (a cursor from another log) is told so, and goes on from the end.
  const truncated = sub.transport === "session" && after > lastId;
  if (truncated) after = lastId;
  const outOfRange = cursorPastEnd(after, lastId);
  if (outOfRange) return failureResponse(outOfRange);
  // An SSE client that already has everything of an ended run gets 204, which stops EventSource reconnecting.
  if (sub.transport === "sse" && ended && after >= lastId) return new Response(null, { status: 204 });
  const routed = host.route?.({ ...sub, after }, truncated);
  if (routed) return routed;
  const client = host.subscribers().accept(sub.transport, after, sub.run, sub.scope, sub.exp, truncated ? SESSION_CATCH_UP_TRUNCATED : undefined);
  return new Response(null, { status: 101, webSocket: client });
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** A frame from a WebSocket viewer, or an SSE bridge's `ack` (they send nothing else that matters). */
export function onFrame(host: SocketHost, ws: WebSocket, message: string | ArrayBuffer): void | Promise<void> {
  const subscribers = host.subscribers();
  const transport = subscribers.transportOf(ws);
  if (transport === undefined || (transport === "ws" && subscribers.expireIfDue(ws))) return;
  // The frequent frame, as the client library and the bridges write it, without a parse.
  const ack = typeof message === "string" ? ackOf(message) : null;
  if (ack !== null) return subscribers.ack(ws, ack);
  if (transport !== "ws") return;
  const read = readFrame(message, host.limits().maxJsonDepth);
  if ("error" in read) return send(ws, { type: "error", error: read.error });
  const parsed = ClientFrame.safeParse(read.value);
  if (!parsed.success) {
    const issue = issueOf(parsed.error.issues);
    const where = issue?.path.length ? ` (at ${issue.path.join(".")})` : "";
    return send(ws, { type: "error", error: { code: "bad_frame", message: `unrecognised frame: ${issue?.message ?? "invalid"}${where}` } });
  }
  const frame = parsed.data;
  if (frame.type === "resume") {
    const outOfRange = cursorPastEnd(frame.after, host.state().lastId);
    if (outOfRange) return send(ws, { type: "error", error: errorOf(outOfRange) });
    return subscribers.resume(ws, frame.after);
  }
  if (frame.type === "ack") return subscribers.ack(ws, frame.after);
  const clientId = frame.clientId === undefined ? {} : { clientId: frame.clientId };
  const scope = subscribers.scopeOf(ws);
  if (scope !== "write" && scope !== "admin") {
    return send(ws, { type: "error", error: { code: "forbidden", message: `a ${scope} token cannot send messages or interrupts` }, ...clientId });
  }
  const input: NewInput =
    frame.type === "interrupt"
      ? { kind: "interrupt", ...clientId }
      : { kind: "message", message: toUserMessage("text" in frame ? frame.text : frame.message), ...clientId };
  const answer = (result: Result<InputAccepted>) =>
    send(ws, result.ok ? { type: "ack", id: result.id, eventId: result.eventId, ...clientId } : { type: "error", error: errorOf(result), ...clientId });
  const result = host.postInput(subscribers.runIdOf(ws) ?? "", input);
  return result instanceof Promise ? result.then(answer) : answer(result);
}

const errorOf = ({ error }: Failure) => ({ code: error.code, message: error.message });

/** A frame's JSON value, or the error to answer: not UTF-8, nested too deep, not JSON (`bad_frame`). */
function readFrame(message: string | ArrayBuffer, maxDepth: number): { value: unknown } | { error: ErrorInfo } {
  let text: string;
  try {
    text = typeof message === "string" ? message : utf8.decode(message);
  } catch {
    return { error: { code: "invalid_utf8", message: "the frame is not valid UTF-8" } };
  }
  if (nestsDeeperThan(text, maxDepth)) return { error: { code: "too_deep", message: tooDeepMessage("the frame", maxDepth) } };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { value: undefined }; // refused as an unrecognised frame
  }
}

function send(ws: WebSocket, frame: ServerFrame): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // closing
  }
}
