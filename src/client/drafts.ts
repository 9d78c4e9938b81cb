/**
 * Folding live deltas into the text of the message being typed (docs/protocol.md, "Live deltas"):
 *
 *   const typing = new MessageDrafts();
 *   run.on("draft", (d) => typing.draft(d));
 *   run.on("delta", (d) => typing.delta(d));
 *   run.on("entry", (e) => typing.entry(e));     // the message's durable line drops its draft
 *   typing.blocks()                              // [{ index, type, text | partial_json | thinking }, …]
 */
import type { Draft, DraftBlock, DraftData, DeltaData } from "../protocol/index.ts";

type StreamEvent = {
  parent_tool_use_id?: string | null;
  event?: { type?: string; index?: number; message?: { id?: string }; content_block?: Record<string, unknown>; delta?: Record<string, unknown> };
};

const FIELD: Record<string, "text" | "partial_json" | "thinking"> = { text_delta: "text", input_json_delta: "partial_json", thinking_delta: "thinking" };

export class MessageDrafts {
  /** In-flight messages by id. */
  readonly messages = new Map<string, Draft>();
  /** Which message each stream's deltas are for (by `parent_tool_use_id`; "" for the main agent). */
  readonly #current = new Map<string, string>();

  /**
   * A draft snapshot: the message as it stands (it replaces what was folded so
   * far), and the message its stream's next deltas continue. A viewer gets
   * drafts again after it missed deltas (it caught up from storage): a later
   * message of the stream may have begun meanwhile.
   */
  draft(d: DraftData | Draft): void {
    this.messages.set(d.messageId, { messageId: d.messageId, blocks: d.blocks.map((b) => ({ ...b })) });
    if (d.stream !== undefined) this.#current.set(d.stream, d.messageId);
    else if (!this.#current.has("")) this.#current.set("", d.messageId); // from an older relay
  }

  /** A live delta: a `stream_event` line. */
  delta(d: Pick<DeltaData, "event">): void {
    const line = d.event as StreamEvent;
    const ev = line.event;
    const key = line.parent_tool_use_id ?? "";
    if (!ev) return;
    if (ev.type === "message_start" && typeof ev.message?.id === "string") {
      const previous = this.#current.get(key);
      if (previous !== undefined) this.messages.delete(previous);
      this.#current.set(key, ev.message.id);
      this.messages.set(ev.message.id, { messageId: ev.message.id, blocks: [] });
      return;
    }
    const id = this.#current.get(key);
    if (id === undefined || typeof ev.index !== "number") return;
    const draft = this.messages.get(id) ?? { messageId: id, blocks: [] };
    this.messages.set(id, draft);
    let block = draft.blocks.find((b) => b.index === ev.index);
    if (ev.type === "content_block_start") {
      const cb = ev.content_block ?? {};
      block = { index: ev.index, type: String(cb.type ?? "text") };
      if (block.type === "text") block.text = "";
      if (block.type === "tool_use") block.partial_json = "";
      if (block.type === "thinking") block.thinking = "";
      draft.blocks = [...draft.blocks.filter((b) => b.index !== ev.index), block].sort((a, b) => a.index - b.index);
    } else if (ev.type === "content_block_delta") {
      const field = FIELD[String(ev.delta?.type)];
      const piece = field && ev.delta?.[field];
      if (!field || typeof piece !== "string") return;
      if (!block) {
        block = { index: ev.index, type: field === "partial_json" ? "tool_use" : field };
        draft.blocks = [...draft.blocks, block].sort((a, b) => a.index - b.index);
      }
      block[field] = (block[field] ?? "") + piece;
    }
  }

  /** A durable entry: an `assistant` line ends its message's draft. */
  entry(e: { type: string; data: Record<string, unknown> }): void {
    const id = e.type === "sdk" && e.data.type === "assistant" ? (e.data.message as { id?: unknown } | undefined)?.id : undefined;
    if (typeof id === "string") this.messages.delete(id);
  }

  /** The blocks of a message (default: the latest in flight). */
  blocks(messageId?: string): DraftBlock[] {
    const id = messageId ?? [...this.messages.keys()].at(-1);
    return id === undefined ? [] : (this.messages.get(id)?.blocks ?? []);
  }

  /** The text typed so far of a message (default: the latest in flight): its text blocks, joined. */
  text(messageId?: string): string {
    return this.blocks(messageId).map((b) => b.text ?? "").join("");
  }

  clear(): void {
    this.messages.clear();
    this.#current.clear();
  }
}
