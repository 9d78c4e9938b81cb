import { describe, expect, it } from "vitest";
import { MessageDrafts } from "../../src/client/drafts.ts";

const se = (event: object, parent: string | null = null) => ({ event: { type: "stream_event", event, parent_tool_use_id: parent } });
const start = (id: string, parent?: string) => se({ type: "message_start", message: { id } }, parent);
const blockStart = (parent?: string) => se({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, parent);
const text = (t: string, parent?: string) => se({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } }, parent);
const assistant = (id: string) => ({ type: "sdk", data: { type: "assistant", message: { id } } });
const draft = (messageId: string, t: string, stream?: string) => ({ after: 1, messageId, ...(stream !== undefined && { stream }), blocks: [{ index: 0, type: "text", text: t }] });

describe("the client's MessageDrafts", () => {
  it("folds a draft and the deltas after it into the message's text", () => {
    const typing = new MessageDrafts();
    typing.draft(draft("m1", "Hel", ""));
    typing.delta(text("lo"));
    expect(typing.text()).toBe("Hello");
    typing.entry(assistant("m1"));
    expect(typing.text()).toBe("");
  });

  it("takes drafts sent again after missed deltas: the next deltas continue the message the draft names for its stream", () => {
    const typing = new MessageDrafts();
    typing.delta(start("m1"));
    typing.delta(blockStart());
    typing.delta(text("one"));
    // Missed meanwhile: m1's durable line (received as an entry, from storage) and m2's start and first words (deltas, not stored).
    typing.entry(assistant("m1"));
    typing.draft(draft("m2", "Hel", ""));
    typing.delta(text("lo"));
    expect(typing.text("m2")).toBe("Hello");
    expect([...typing.messages.keys()]).toEqual(["m2"]);
  });

  it("keeps each stream's deltas with its own message: the main agent's and a subagent's", () => {
    const typing = new MessageDrafts();
    typing.draft(draft("m1", "main ", ""));
    typing.draft(draft("s1", "sub ", "toolu_1"));
    typing.delta(text("agent"));
    typing.delta(text("agent", "toolu_1"));
    expect(typing.text("m1")).toBe("main agent");
    expect(typing.text("s1")).toBe("sub agent");
  });
});
