/**
 * The chat view: a run, live. Open /?run=ID&token=TOKEN (under `npm run dev`
 * the token may be left out: the page fetches one from the dev route).
 * Assistant text as it streams (partial deltas merged by message id with the
 * final lines), tool calls with their input and a collapsible result, each
 * turn's cost/duration, user messages from any device, run status and the
 * connection's state; a message box and a stop button.
 */
import { connect, MessageDrafts, type ClientEntry, type ConnectionState, type RunConnection } from "../src/client/index.ts";

type Json = Record<string, any>; // stream-json lines are open-ended: unknown types pass through

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const log = $("log");
const form = $<HTMLFormElement>("composer");
const box = $<HTMLTextAreaElement>("message");
const sendButton = $<HTMLButtonElement>("send");
const stopButton = $<HTMLButtonElement>("stop");
const note = $("composer-note");

const el = (tag: string, className: string, text?: string) => {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

function append(node: HTMLElement): void {
  log.append(node);
}

/** Whether the reader is at the bottom (then the view follows new output; else it stays put). */
const atBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;

// --- assistant messages, merged by message id -----------------------------------------
const bubbles = new Map<string, HTMLElement>();
const tools = new Map<string, HTMLElement>();
/** Messages being typed: live deltas and drafts, folded per message id (never stored, never iterated). */
const typing = new MessageDrafts();

/** A message's bubble; `entryId` is set once its first durable line lands (a bubble being typed has none yet). */
function bubbleFor(messageId: string, entryId?: number): HTMLElement {
  let bubble = bubbles.get(messageId);
  if (!bubble) {
    bubble = el("div", "entry assistant");
    bubble.dataset.message = messageId;
    bubbles.set(messageId, bubble);
    append(bubble);
  }
  if (entryId !== undefined) bubble.dataset.entry ??= String(entryId);
  return bubble;
}

/** Shows the text typed so far of every message in flight, in its bubble, until its final text replaces it. */
function showTyping(): void {
  for (const [messageId, draft] of typing.messages) {
    const text = draft.blocks.map((b) => b.text ?? "").join("");
    if (!text) continue;
    const bubble = bubbleFor(messageId);
    let p = bubble.querySelector<HTMLElement>("p.partial");
    if (!p) bubble.append((p = el("p", "partial")));
    p.textContent = text;
  }
}

/**
 * Claude Code prints one `assistant` line per content block, all with the
 * message's id: blocks accumulate in one bubble, each once, and final text
 * replaces the text streamed so far.
 */
function renderAssistant(line: Json, entryId: number): void {
  const message = line.message ?? {};
  const bubble = bubbleFor(message.id ?? `entry-${entryId}`, entryId);
  const seen = (bubble.dataset.blocks ??= "");
  for (const block of message.content ?? []) {
    const key = block.type === "tool_use" ? `tool:${block.id}` : `${block.type}:${block.text ?? block.thinking ?? ""}`;
    if (seen.split("\u0000").includes(key)) continue;
    bubble.dataset.blocks += `${key}\u0000`;
    if (block.type === "text") {
      bubble.querySelector("p.partial")?.remove();
      bubble.append(el("p", "", block.text));
    } else if (block.type === "tool_use") bubble.append(toolCard(block));
    else if (block.type === "thinking") {
      const details = el("details", "thinking");
      details.append(el("summary", "", "Thinking"), el("p", "", block.thinking ?? ""));
      bubble.append(details);
    }
  }
}

function toolCard(block: Json): HTMLElement {
  const card = el("details", "tool");
  card.dataset.tool = block.id;
  const summary = el("summary", "");
  summary.append(el("span", "tool-name", block.name), ` ${block.input?.description ?? block.input?.command ?? ""}`);
  card.append(summary, el("pre", "input", JSON.stringify(block.input ?? {}, null, 2)));
  tools.set(block.id, card);
  return card;
}

function renderToolResults(line: Json): boolean {
  const blocks: Json[] = Array.isArray(line.message?.content) ? line.message.content : [];
  const results = blocks.filter((b) => b.type === "tool_result");
  for (const r of results) {
    const card = tools.get(r.tool_use_id);
    const text = typeof r.content === "string" ? r.content : (r.content ?? []).map((c: Json) => c.text ?? "").join("\n");
    const result = el("details", `result${r.is_error ? " error" : ""}${card ? "" : " entry"}`);
    result.append(el("summary", "", r.is_error ? "Result (error)" : "Result"), el("pre", "", text));
    if (card) card.append(result);
    else append(result);
  }
  return results.length > 0;
}

/** A `stream_event` stored as an entry by an older relay: shown as a live delta. */
function renderStreamEvent(line: Json): void {
  typing.delta({ event: line });
  showTyping();
}

function renderResult(line: Json): void {
  const parts = [
    line.is_error ? `Turn failed (${line.subtype})` : "Turn complete",
    line.duration_ms !== undefined ? `${(line.duration_ms / 1000).toFixed(1)} s` : "",
    line.num_turns !== undefined ? `${line.num_turns} turn${line.num_turns === 1 ? "" : "s"}` : "",
    line.total_cost_usd !== undefined ? `$${Number(line.total_cost_usd).toFixed(4)}` : "",
  ].filter(Boolean);
  append(el("div", `entry result-line${line.is_error ? " error" : ""}`, parts.join(" · ")));
}

// --- one entry ---------------------------------------------------------------------------
const clientId = `tab-${Math.random().toString(36).slice(2, 10)}`;
const sentBubbles = new Map<number, HTMLElement>();

function render(entry: ClientEntry): void {
  const d = entry.data as Json;
  if (entry.type === "status") {
    setStatus(d.status);
    append(el("div", "entry status", statusText(d)));
    return;
  }
  if (entry.type === "input") {
    if (d.kind === "message") {
      const content = d.message?.content;
      const text = typeof content === "string" ? content : (content ?? []).map((c: Json) => c.text ?? `[${c.type}]`).join("\n");
      const bubble = el("div", "entry user-message", text);
      bubble.dataset.entry = String(entry.id);
      bubble.append(el("span", "meta", d.clientId === clientId ? "you · queued" : "queued"));
      sentBubbles.set(d.inputId, bubble);
      append(bubble);
    } else if (d.kind === "interrupt") append(el("div", "entry note", "⏹ Stop requested"));
    else if (d.kind === "delivered" || d.kind === "undelivered") {
      const why = d.reason === "run_ended" ? "the run ended first" : d.reason === "session_closed" ? "the session had closed" : String(d.reason);
      const mark = d.kind === "delivered" ? "delivered ✓" : `not delivered (${why})`;
      for (const id of d.inputIds ?? []) {
        const meta = sentBubbles.get(id)?.querySelector(".meta");
        if (meta) meta.textContent = meta.textContent!.replace("queued", mark);
      }
      if (d.kind === "undelivered") append(el("div", "entry note undelivered", `${(d.inputIds ?? []).length} input(s) did not reach the agent: ${why}`));
    }
    return;
  }
  setStatus("running");
  typing.entry(entry); // a message's durable line ends its draft
  switch (d.type) {
    case "assistant":
      return renderAssistant(d, entry.id);
    case "stream_event":
      return renderStreamEvent(d);
    case "user":
      if (!renderToolResults(d)) {
        const text = typeof d.message?.content === "string" ? d.message.content : (d.message?.content ?? []).map((c: Json) => c.text ?? "").join("\n");
        if (text) append(el("div", "entry note", text));
      }
      return;
    case "result":
      return renderResult(d);
    case "system":
      if (d.subtype === "init") append(el("div", "entry note", `Session started · ${d.model ?? "model"} · ${d.cwd ?? ""}`));
      return;
    case "runrelay_diagnostic":
      append(el("div", "entry diagnostic", d.text ?? `[${d.subtype}${d.bytes ? `, ${d.bytes} bytes` : ""}] ${d.head ?? ""}`));
      return;
    default:
      return; // other stream-json types (lifecycle, hooks …) are not shown
  }
}

/** A status entry in words: the end, a runner gone quiet (stalled), or back. */
function statusText(d: Json): string {
  if (d.status === "stalled") return `The runner has gone quiet (${d.reason ?? "no word from it"}); waiting for it to come back`;
  if (d.status === "running") return "The runner is back";
  return `Run ${d.status}${d.reason ? `: ${d.reason}` : ""}`;
}

// --- status, connection, composer --------------------------------------------------------
let runEnded = false;
let canWrite = false;
let problem = ""; // why the page cannot send (no token, the relay refused) or why the last action failed
let sending = false;

function setStatus(status: string): void {
  const badge = $("run-status");
  if (badge.dataset.status === status || runEnded) return;
  badge.dataset.status = status;
  badge.textContent = status;
}

function setConnection(state: ConnectionState): void {
  const badge = $("connection");
  badge.dataset.state = state;
  badge.textContent = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", ended: "ended", closed: "closed", failed: "refused" }[state];
}

function updateComposer(): void {
  const reason = runEnded ? "The run has ended." : !canWrite ? problem || "This link is read-only: you can watch, not send." : "";
  for (const control of [box, stopButton]) control.disabled = reason !== "";
  sendButton.disabled = reason !== "" || sending;
  const text = reason || problem;
  note.hidden = text === "";
  note.textContent = text;
}

function showProblem(message: string): void {
  problem = message;
  updateComposer();
}

/** The token's scope, read from its payload (the relay checks it; this only shapes the page). */
function scopeOf(token: string): string | undefined {
  try {
    return JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).scope;
  } catch {
    return undefined;
  }
}

async function start(): Promise<void> {
  form.addEventListener("submit", (e) => e.preventDefault()); // never a native submit, whatever happens below
  const params = new URLSearchParams(location.search);
  const runId = params.get("run");
  if (!runId) {
    append(el("div", "entry note", "Open this page with ?run=RUN_ID&token=TOKEN."));
    updateComposer();
    return;
  }
  $("run-id").textContent = runId;
  let token = params.get("token") ?? undefined;
  if (!token) {
    // Under `npm run dev` the relay hands out a ready token; elsewhere this route does not exist.
    const res = await fetch(`/api/v1/dev/token?run=${encodeURIComponent(runId)}&scope=write`);
    if (res.ok) token = ((await res.json()) as { token: string }).token;
    else {
      showProblem("This page needs a token: add &token=… to its address.");
      return;
    }
  }
  canWrite = ["write", "admin"].includes(scopeOf(token) ?? "");
  updateComposer();

  const transport = params.get("transport") === "ws" ? "ws" : "sse";
  const run: RunConnection = connect({ url: location.origin, runId, token, transport });
  run.on("state", setConnection);
  run.on("entry", (entry) => {
    const follow = atBottom();
    render(entry);
    if (follow) window.scrollTo({ top: document.body.scrollHeight }); // streamed text grows the page too
  });
  for (const event of ["draft", "delta"] as const) {
    run.on(event, (live: Json) => {
      const follow = atBottom();
      if (event === "draft") typing.draft(live as never);
      else typing.delta(live as never);
      showTyping();
      if (follow) window.scrollTo({ top: document.body.scrollHeight });
    });
  }
  run.on("error", (err) => showProblem(`The relay refused this page: ${err.message}`));
  run.on("end", (end) => {
    setStatus(end.status);
    runEnded = true;
    updateComposer();
  });

  // One idempotency key per composed text: a retry of the same text is stored once.
  let key = crypto.randomUUID();
  box.addEventListener("input", () => (key = crypto.randomUUID()));
  form.addEventListener("submit", async () => {
    const text = box.value.trim();
    if (!text || sending) return;
    sending = true;
    problem = "";
    updateComposer();
    try {
      await run.send(text, { clientId, idempotencyKey: key });
      box.value = "";
      key = crypto.randomUUID();
    } catch (err) {
      problem = `Not sent: ${(err as Error).message}`;
    } finally {
      sending = false;
      updateComposer();
    }
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  stopButton.addEventListener("click", () => {
    run.interrupt({ clientId }).then(
      () => showProblem(""),
      (err: Error) => showProblem(`Stop not sent: ${err.message}`),
    );
  });
}

void start();
