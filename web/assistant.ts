/** Assistant messages, merged by message id: text as it is typed, then as Markdown; tool calls; thinking. */
import { MessageDrafts } from "../src/client/index.ts";
import { $, el, type Json } from "./dom.ts";
import { markdown } from "./markdown.ts";
import { toolCard } from "./tools.ts";

const append = (node: HTMLElement) => $("log").append(node);
const bubbles = new Map<string, HTMLElement>();
/** Messages being typed: live deltas and drafts, folded per message id (never stored, never iterated). */
export const typing = new MessageDrafts();

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
export function showTyping(): void {
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
export function renderAssistant(line: Json, entryId: number): void {
  const message = line.message ?? {};
  const bubble = bubbleFor(message.id ?? `entry-${entryId}`, entryId);
  const seen = (bubble.dataset.blocks ??= "");
  for (const block of message.content ?? []) {
    const key = block.type === "tool_use" ? `tool:${block.id}` : `${block.type}:${block.text ?? block.thinking ?? ""}`;
    if (seen.split("\u0000").includes(key)) continue;
    bubble.dataset.blocks += `${key}\u0000`;
    if (block.type === "text") {
      bubble.querySelector("p.partial")?.remove();
      bubble.append(markdown(block.text ?? ""));
    } else if (block.type === "tool_use") bubble.append(toolCard(block));
    else if (block.type === "thinking") {
      const details = el("details", "thinking");
      details.append(el("summary", "", "Thinking"), el("p", "", block.thinking ?? ""));
      bubble.append(details);
    }
  }
}

/** A `stream_event` stored as an entry by an older relay: shown as a live delta. */
export function renderStreamEvent(line: Json): void {
  typing.delta({ event: line });
  showTyping();
}

