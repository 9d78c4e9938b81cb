/**
 * The client library's live deltas against a real `wrangler dev`: a viewer
 * that is live gets every delta (`on("delta")`) in order, right after the
 * entry it follows; one that connects mid-message gets the draft first
 * (`on("draft")`); `MessageDrafts` folds both into the text typed so far; the
 * ordered entries (`for await`) never contain a delta.
 */
import { EventSource } from "eventsource";
import { describe, expect, inject, it } from "vitest";
import { connect, MessageDrafts, type ClientEntry, type DeltaData, type DraftData } from "../../src/client/index.ts";
import { Inbox, ndjson } from "../support/inbox";
import { ADMIN, tokenFor } from "./auth";

const relay = () => inject("relayUrl");
const delta = (event: object) => ({ type: "stream_event", event, session_id: "c", parent_tool_use_id: null });
const text = (t: string) => delta({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } });
const WORDS = Array.from({ length: 30 }, (_, i) => `w${i} `);

async function append(runId: string, lines: unknown[]) {
  const res = await fetch(`${relay()}/api/v1/workflows/${runId}/events`, { method: "POST", headers: { ...ADMIN, "Content-Type": "application/x-ndjson" }, body: ndjson(lines) });
  expect(res.status).toBe(200);
}

function watch(runId: string, token: string, transport: "sse" | "ws") {
  const run = connect({ url: relay(), runId, token, transport, EventSource: EventSource as unknown as typeof globalThis.EventSource });
  const typing = new MessageDrafts();
  const seen = new Inbox<{ kind: "entry"; entry: ClientEntry } | { kind: "delta"; data: DeltaData } | { kind: "draft"; data: DraftData }>();
  run.on("entry", (entry) => (typing.entry(entry), seen.push({ kind: "entry", entry })));
  run.on("delta", (data) => (typing.delta(data), seen.push({ kind: "delta", data })));
  run.on("draft", (data) => (typing.draft(data), seen.push({ kind: "draft", data })));
  return { run, typing, seen };
}

describe("the client's live deltas", () => {
  for (const transport of ["sse", "ws"] as const) {
    it(`${transport}: deltas in order after their entry, a draft for a late viewer, and the final message ends the draft`, async () => {
      const runId = `deltas-${transport}-${crypto.randomUUID().slice(0, 8)}`;
      const token = await tokenFor(runId, "read");
      await append(runId, [{ type: "system", subtype: "init", session_id: "c" }]);
      const early = watch(runId, token, transport);
      await early.seen.until((s) => s.some((x) => x.kind === "entry"), "the first entry");
      await append(runId, [delta({ type: "message_start", message: { id: "msg_c" } }), delta({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } })]);
      for (const w of WORDS.slice(0, 15)) await append(runId, [text(w)]);
      await early.seen.until((s) => s.filter((x) => x.kind === "delta").length === 17, "the first deltas");
      expect(early.typing.text()).toBe(WORDS.slice(0, 15).join(""));

      // A viewer that joins now gets the draft so far, then the rest.
      const late = watch(runId, token, transport);
      await late.seen.until((s) => s.some((x) => x.kind === "draft"), "the draft");
      for (const w of WORDS.slice(15)) await append(runId, [text(w)]);
      const final = WORDS.join("").trim();
      await append(runId, [{ type: "assistant", message: { id: "msg_c", role: "assistant", content: [{ type: "text", text: final }] }, session_id: "c" }]);
      for (const v of [early, late]) {
        await v.seen.until((s) => s.filter((x) => x.kind === "entry").length === 2, "the final message");
        const deltas = v.seen.items.filter((x) => x.kind === "delta").map((x) => (x as { data: DeltaData }).data);
        expect(deltas.every((d) => d.after === 1)).toBe(true);
        expect(v.typing.messages.size).toBe(0); // the final message ended the draft
        const entries = v.seen.items.filter((x) => x.kind === "entry").map((x) => (x as { entry: ClientEntry }).entry);
        expect(entries.map((e) => [e.id, e.data.type])).toEqual([[1, "system"], [2, "assistant"]]);
      }
      // The early viewer saw every delta; the late one the draft (15 words), then the other 15 deltas.
      const words = (v: typeof early) =>
        v.seen.items.flatMap((x) => (x.kind === "delta" ? [((x.data.event as { event: { delta?: { text?: string } } }).event.delta?.text ?? null)] : [])).filter((t) => t !== null);
      expect(words(early)).toEqual(WORDS);
      const draft = late.seen.items.find((x) => x.kind === "draft") as { data: DraftData };
      expect(draft.data.blocks.map((b) => b.text)).toEqual([WORDS.slice(0, 15).join("")]);
      expect(words(late)).toEqual(WORDS.slice(15));
      early.run.close();
      late.run.close();
    });
  }
});
