/**
 * Text as it is typed: the real Claude Code binary (with --include-partial-messages, added by the
 * runner) streams one message in 200 text deltas from the fake API; viewers see every delta live,
 * the relay stores none of them, and a viewer that comes in mid-message gets the draft first.
 */
import { EventSourceParserStream } from "eventsource-parser/stream";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { DraftData, Entry, RunInfo, ServerFrame } from "../../src/protocol/index.ts";
import { claudeExecutable, startFakeAnthropic, streamPieces, type FakeAnthropic } from "../support/fake-anthropic";
import { Inbox } from "../support/inbox";
import { ADMIN, tokenFor } from "./auth";
import { newRunId, relayApi, runnerEnv, startRunner, tempDir } from "./runner-support";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());

const relay = () => relayApi(inject("relayUrl"));
const env = (runId: string) => runnerEnv(runId, fake.env);

/** What a viewer saw, in order: entries (by id), deltas (their text, if a text delta), drafts. */
type Seen = { kind: "entry"; id: number; data: Record<string, unknown> } | { kind: "delta"; after: number; text: string | undefined } | { kind: "draft"; draft: DraftData };
type StreamEvent = { event?: { type?: string; delta?: { type?: string; text?: string } } };
const deltaOf = (after: number, line: StreamEvent): Seen => ({ kind: "delta", after, text: line.event?.delta?.type === "text_delta" ? line.event.delta.text : undefined });

/** An SSE viewer (fetch, so it can send Last-Event-ID). */
async function sseViewer(runId: string, lastEventId?: number) {
  const seen = new Inbox<Seen>();
  const res = await fetch(relay().url(runId, `/stream?token=${await tokenFor(runId, "read")}`), {
    headers: lastEventId === undefined ? {} : { "Last-Event-ID": String(lastEventId) },
  });
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  void (async () => {
    for (;;) {
      const { done, value: f } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (done) break;
      const data = JSON.parse(f.data);
      if (f.event === "delta") seen.push(deltaOf(data.after, data.event));
      else if (f.event === "draft") seen.push({ kind: "draft", draft: data });
      else if (f.event === "end") break;
      else seen.push({ kind: "entry", id: Number(f.id), data });
    }
    seen.close();
  })();
  return seen;
}

/** A WebSocket viewer. */
async function wsViewer(runId: string) {
  const seen = new Inbox<Seen>();
  const base = relay().url(runId, `/ws?token=${await tokenFor(runId, "read")}`).replace(/^http/, "ws");
  const ws = new WebSocket(base);
  ws.addEventListener("message", (e) => {
    const f = JSON.parse(String(e.data)) as ServerFrame;
    if (f.type === "events") for (const x of f.events) seen.push({ kind: "entry", id: x.id, data: x.data });
    else if (f.type === "delta") seen.push(deltaOf(f.after, f.event as StreamEvent));
    else if (f.type === "draft") seen.push({ kind: "draft", draft: f });
  });
  ws.addEventListener("close", () => seen.close());
  await new Promise((r) => ws.addEventListener("open", r, { once: true }));
  return seen;
}

const texts = (seen: readonly Seen[]) => seen.flatMap((s) => (s.kind === "delta" && s.text !== undefined ? [s.text] : []));
const assistantText = (e: { data: Record<string, unknown> }) =>
  ((e.data.message as { content: { type: string; text?: string }[] }).content.find((b) => b.type === "text")?.text ?? "");
const isFinal = (s: Seen) => s.kind === "entry" && s.data.type === "assistant";

async function runInfo(runId: string): Promise<RunInfo> {
  return (await fetch(relay().url(runId), { headers: ADMIN })).json() as Promise<RunInfo>;
}

function startClaude(runId: string, prompt: string, cwd: string, runEnv: Record<string, string>) {
  return claudeExecutable().then((claude) =>
    startRunner(
      ["exec", "--verbose", "--prompt", prompt, "--spool-dir", cwd, "--", claude, "-p", "--output-format", "stream-json", "--input-format", "stream-json", "--verbose", "--bare"],
      runEnv,
      cwd,
    ),
  );
}

it("exec claude: 200 text deltas reach a live SSE and a live WebSocket viewer in order, then the final line; none is stored; rows written are counted", async () => {
  const runId = newRunId("deltas");
  const cwd = await tempDir("deltas");
  const sse = await sseViewer(runId);
  const ws = await wsViewer(runId);
  // A window of the turn: from its first text delta at a viewer to its last (the fake pauses at both ends).
  const first = fake.holdStream(runId, 1);
  const last = fake.holdStream(runId, 200);
  const runner = await startClaude(runId, `[stream 200] ${runId}`, cwd, await env(runId));
  await first.reached;
  await sse.until((s) => texts(s).length === 1, "the first delta");
  const before = await runInfo(runId);
  first.release();
  await last.reached;
  await sse.until((s) => texts(s).length === 200, "the last delta");
  const after = await runInfo(runId);
  last.release();
  expect(await runner.exit, runner.stderr()).toBe(0);

  const all = streamPieces(200);
  const log = await relay().log(runId);
  expect(log.filter((e) => e.data.type === "stream_event")).toEqual([]);
  const final = log.find((e) => e.data.type === "assistant" && assistantText(e) === all.join(""));
  expect(final, JSON.stringify(log.map((e) => e.data.type))).toBeDefined();
  for (const seen of [await sse.ended(), await ws.ended()]) {
    expect(texts(seen)).toEqual(all);
    const lastDelta = seen.findLastIndex((s) => s.kind === "delta" && s.text !== undefined);
    expect(seen.findIndex(isFinal)).toBeGreaterThan(lastDelta);
    expect(seen.filter((s) => s.kind === "entry").map((s) => (s as { id: number }).id)).toEqual(log.map((e) => e.id));
    // Each delta is placed after the last durable id before it.
    expect(seen.every((s, i) => s.kind !== "delta" || s.after === (seen.slice(0, i).findLast((x) => x.kind === "entry") as { id: number } | undefined)?.id)).toBe(true);
  }

  // Batches and durable lines in the window, from the same reads of the run's object as the row counts.
  const batches = after.producers.runner!.seq - before.producers.runner!.seq;
  const durable = after.lastEventId - before.lastEventId;
  const rows = after.rowsWritten - before.rowsWritten;
  const runBatches = runner.stderr().match(/batch \d+:\d+: \d+ line\(s\) appended/g)?.length ?? 0;
  const deltas = (await sse.ended()).filter((s) => s.kind === "delta").length;
  console.info(
    `deltas 2-200: ${durable} durable line(s) and 199 text deltas in ${batches} batches wrote ${rows} rows (bound ${durable + batches}); ` +
      `the whole run: ${deltas} deltas, ${log.length} durable entries, ${runBatches} batches, ${(await runInfo(runId)).rowsWritten} rows ` +
      `(with the claim, long-polls and completion); a row per line would be ${log.length + deltas}+`,
  );
  expect(batches).toBeGreaterThan(0);
  expect(rows).toBeLessThanOrEqual(durable + batches); // a row per durable line, and the run's row once per batch
});

it("exec claude: paused after 100 deltas, a late viewer gets the draft then the rest, and a Last-Event-ID reconnect gets exactly the entries after it plus the draft", async () => {
  const runId = newRunId("draft");
  const cwd = await tempDir("draft");
  const marker = `[stream 200] ${runId}`;
  const hold = fake.holdStream(runId, 100);
  const early = await sseViewer(runId);
  const runner = await startClaude(runId, marker, cwd, await env(runId));
  await hold.reached;
  await early.until((s) => texts(s).length === 100, "the first 100 deltas");
  const entriesSoFar = early.items.filter((s) => s.kind === "entry") as { id: number }[];
  const late = await wsViewer(runId);
  const resumeFrom = entriesSoFar[0]!.id;
  const reconnected = await sseViewer(runId, resumeFrom);
  await late.until((s) => s.some((x) => x.kind === "draft"), "the draft");
  await reconnected.until((s) => s.some((x) => x.kind === "draft"), "the draft");
  hold.release();
  expect(await runner.exit, runner.stderr()).toBe(0);

  const all = streamPieces(200).join("");
  const log: Entry[] = await relay().log(runId);
  const final = log.find((e) => e.data.type === "assistant" && assistantText(e) === all)!;
  expect(final).toBeDefined();
  for (const seen of [await late.ended(), await reconnected.ended()]) {
    const at = seen.findIndex((s) => s.kind === "draft");
    const draft = (seen[at] as { draft: DraftData }).draft;
    const draftText = draft.blocks.find((b) => b.type === "text")!.text!;
    expect(draftText.length).toBeGreaterThanOrEqual(streamPieces(100).join("").length);
    expect(all.startsWith(draftText)).toBe(true);
    // The draft, then every later delta: the message's text, exactly.
    expect(draftText + texts(seen.slice(at)).join("")).toBe(all);
    expect(assistantText(seen.find(isFinal) as { data: Record<string, unknown> })).toBe(all);
  }
  // The reconnect: exactly the entries after its Last-Event-ID, each once.
  const ids = (await reconnected.ended()).flatMap((s) => (s.kind === "entry" ? [s.id] : []));
  expect(ids).toEqual(log.filter((e) => e.id > resumeFrom).map((e) => e.id));
});
