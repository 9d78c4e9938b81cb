/**
 * The chat view: a run, live. Open /?run=ID&token=TOKEN (under `npm run dev`
 * the token may be left out: the page fetches one from the dev route).
 * Assistant text as it streams (partial deltas merged by message id with the
 * final lines, then Markdown: web/assistant.ts, web/markdown.ts), tool cards
 * (web/tools.ts), each turn's cost/duration, user messages from any device, run
 * status and the connection's state, what the run is doing in words
 * (web/state.ts), permission prompts to answer (web/permissions.ts); a message
 * box and a stop button.
 */
import { connect, type ClientEntry, type ConnectionState, type RunConnection } from "../src/client/index.ts";
import { renderAssistant, renderStreamEvent, showTyping, typing } from "./assistant.ts";
import { $, el, icon, type Json } from "./dom.ts";
import { openForm, scopeOf, watchForRun } from "./page.ts";
import { endPrompts, showAsking, showRequest } from "./permissions.ts";
import { activity, endedText, failureText, setActivity, WORDS } from "./state.ts";
import { renderToolResults } from "./tools.ts";

const log = $("log");
const form = $<HTMLFormElement>("composer");
const box = $<HTMLTextAreaElement>("message");
const sendButton = $<HTMLButtonElement>("send");
const stopButton = $<HTMLButtonElement>("stop");
const note = $("composer-note");

function append(node: HTMLElement): void {
  log.append(node);
}

/** Whether the reader is at the bottom (then the view follows new output; else it stays put). */
const atBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;

function renderResult(line: Json): void {
  const interrupted = activity() === "stopping" && line.is_error === true;
  if (!runEnded) setActivity("waiting", interrupted ? WORDS.stopped : WORDS.waiting);
  const parts = [
    line.is_error ? failureText(line, interrupted) : "Turn complete",
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
    if (d.status === "stalled") setActivity("stalled", WORDS.stalled);
    else if (d.status === "running") setActivity("working", WORDS.working);
    else if (d.status !== "pending") endRun(d.status, d.reason);
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
    } else if (d.kind === "interrupt") {
      const stop = el("div", "entry note");
      stop.append(icon("stop"), " Stop requested");
      append(stop);
    }
    else if (d.kind === "delivered" || d.kind === "undelivered") {
      const why = d.reason === "run_ended" ? "the run ended first" : d.reason === "session_closed" ? "the session had closed" : String(d.reason);
      const mark = d.kind === "delivered" ? "delivered" : `not delivered (${why})`;
      if (d.kind === "delivered" && !runEnded && activity() !== "stopping") setActivity("working", WORDS.working);
      for (const id of d.inputIds ?? []) {
        const meta = sentBubbles.get(id)?.querySelector(".meta");
        if (meta) meta.textContent = meta.textContent!.replace("queued", mark);
      }
      if (d.kind === "undelivered") append(el("div", "entry note undelivered", `${(d.inputIds ?? []).length} input(s) did not reach the agent: ${why}`));
    }
    return;
  }
  setStatus("running");
  if (d.type !== "result" && d.type !== "runrelay_diagnostic" && !runEnded && activity() !== "stopping") setActivity("working", WORDS.working);
  typing.entry(entry); // a message's durable line ends its draft
  switch (d.type) {
    case "assistant":
      return renderAssistant(d, entry.id);
    case "stream_event":
      return renderStreamEvent(d);
    case "user":
      if (!renderToolResults(d, append)) {
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

function endRun(status: string, reason?: string): void {
  if (!runEnded || activity() !== "ended" || reason) setActivity("ended", endedText(status, reason));
  setStatus(status);
  runEnded = true;
  endPrompts();
  updateComposer();
}

// --- status, connection, composer --------------------------------------------------------
let runEnded = false;
let canWrite = false;
let problem = ""; // why the page cannot send (no token, the relay refused) or why the last action failed
let sending = false;
let missing = false; // the relay has no such run (yet)

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
  const reason = runEnded ? "The run has ended." : missing ? "No such run yet: sending opens once it starts." : !canWrite ? problem || "This link is read-only: you can watch, not send." : "";
  box.disabled = reason !== "";
  stopButton.disabled = runEnded || !canWrite; // idle, it answers "nothing to stop"
  sendButton.disabled = reason !== "" || sending;
  const text = reason || problem;
  note.hidden = text === "";
  note.textContent = text;
}

function showProblem(message: string): void {
  problem = message;
  updateComposer();
}

async function start(): Promise<void> {
  form.addEventListener("submit", (e) => e.preventDefault()); // never a native submit, whatever happens below
  const params = new URLSearchParams(location.search);
  const runId = params.get("run");
  if (!runId) return openForm();
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
  void watchForRun(runId, token, (yes) => {
    missing = yes;
    updateComposer();
  });

  const transport = params.get("transport") === "ws" ? "ws" : "sse";
  const run: RunConnection = connect({ url: location.origin, runId, token, transport });
  run.on("state", setConnection);
  run.on("entry", (entry) => {
    const follow = atBottom();
    render(entry);
    showAsking(); // an open prompt outlasts lines that say "working…"
    if (follow) window.scrollTo({ top: document.body.scrollHeight }); // streamed text grows the page too
  });
  run.on("request", (request) => {
    const follow = atBottom();
    showRequest(request, { run, canWrite, append });
    if (follow) window.scrollTo({ top: document.body.scrollHeight });
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
  run.on("end", (end) => endRun(end.status));

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
    if (!["working", "asking", "stopping"].includes(activity())) return setActivity("idle", WORDS.nothingToStop);
    setActivity("stopping", WORDS.stopping);
    run.interrupt({ clientId }).then(
      () => showProblem(""),
      (err: Error) => showProblem(`Stop not sent: ${err.message}`),
    );
  });
}

void start();
