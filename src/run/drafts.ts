/**
 * Live deltas and drafts (docs/protocol.md, "Live deltas"). A batch's
 * `stream_event` lines are never stored: they are fanned out in batch order
 * with its durable entries, each after the last durable id before it. The
 * object keeps each in-flight message's draft (per message id and content
 * block: the text, tool-input JSON and thinking so far), in memory and as one
 * column of the run's row, written with the batch's one `touch` of that row,
 * so a draft survives eviction. The durable `assistant` line of a message
 * drops its draft.
 */
import type { Draft, DraftBlock } from "../protocol/index.ts";
import type { EntryText } from "../protocol/index.ts";

type StoredEntry = EntryText;
type NewEntry = Pick<EntryText, "type" | "data">;

/**
 * What the Worker marks in a batch, in line order: `[index, null]` for a
 * `stream_event` line (a live delta), `[index, messageId]` for an `assistant`
 * line (it drops that message's draft). Other lines are not marked.
 */
export type LineMark = [index: number, messageId: string | null];

/** A batch's lines in order, for the fan-out: stored entries, and deltas after the last durable id before them. */
export type Segment = { entries: readonly StoredEntry[] } | { delta: string; after: number };

/** A batch's order: ranges of its entries (by index) and deltas. */
export type Order = ({ from: number; to: number } | { delta: string; after: number })[];

/** The segments of a batch, once its entries are stored. */
export const segmentsOf = (order: Order, rows: readonly StoredEntry[]): Segment[] =>
  order.map((o) => ("delta" in o ? o : { entries: rows.slice(o.from, o.to) }));

/** A batch, split: the lines to store, and the live part to fold into the drafts once they have ids. */
export interface LiveBatch {
  entries: NewEntry[];
  /** In batch order: a delta after `at` stored entries of the batch, or the end of a message's draft. */
  steps: ({ at: number; delta: string } | { at: number; finished: string })[];
}

/** Splits a batch by its marks; null when nothing in it is live (no delta, no assistant line). */
export function splitBatch(lines: readonly string[], marks: readonly LineMark[] = []): LiveBatch | null {
  if (marks.length === 0) return null;
  const entries: NewEntry[] = [];
  const steps: LiveBatch["steps"] = [];
  let m = 0;
  lines.forEach((data, i) => {
    const mark = marks[m]?.[0] === i ? marks[m++]![1] : undefined;
    if (mark === null) return steps.push({ at: entries.length, delta: data });
    entries.push({ type: "sdk", data });
    if (mark !== undefined) steps.push({ at: entries.length, finished: mark });
  });
  return { entries, steps };
}

interface State {
  /** In-flight messages by id. */
  drafts: Record<string, Draft>;
  /** Which message the deltas of each stream are for (keyed by `parent_tool_use_id`; "" for the main agent). */
  current: Record<string, string>;
}

type StreamLine = {
  parent_tool_use_id?: string | null;
  event?: { type?: string; index?: number; message?: { id?: unknown }; content_block?: Record<string, unknown>; delta?: Record<string, unknown> };
};

/** A draft kept above this many characters is not written to storage (it stays in memory). */
const MAX_STORED_CHARS = 1_000_000;

export class Drafts {
  #state: State | null = null;

  /** `load`: the stored drafts (JSON text), read on first use. */
  constructor(private readonly load: () => string | null) {}

  #get(): State {
    if (this.#state) return this.#state;
    const text = this.load();
    this.#state = text ? (JSON.parse(text) as State) : { drafts: {}, current: {} };
    return this.#state;
  }

  /**
   * Every in-flight message's draft, for a viewer that is caught up mid-message,
   * with the stream its deltas come on: a copy, so the drafts kept with a
   * published batch stay as they were when a later batch is folded in.
   */
  list(): Draft[] {
    const state = this.#get();
    const streamOf = new Map(Object.entries(state.current).map(([stream, id]) => [id, stream]));
    return Object.values(state.drafts)
      .filter((d) => d.blocks.length > 0)
      .map((d) => {
        const stream = streamOf.get(d.messageId);
        return { messageId: d.messageId, ...(stream !== undefined && { stream }), blocks: d.blocks.map((b) => ({ ...b })) };
      });
  }

  /**
   * Folds a batch into the drafts, in order, before its entries are stored
   * (their ids follow `before`); returns the batch's order for the fan-out
   * (`segmentsOf`) and the drafts' JSON text to store with it (null: none).
   */
  fold(batch: LiveBatch, before: number): { order: Order; stored: string | null } {
    const order: Order = [];
    let done = 0;
    const upTo = (at: number) => {
      if (at > done) order.push({ from: done, to: at });
      done = Math.max(done, at);
    };
    for (const step of batch.steps) {
      if ("finished" in step) {
        delete this.#get().drafts[step.finished]; // entries go out in one frame: only a delta splits them
      } else {
        upTo(step.at);
        this.#apply(step.delta);
        order.push({ delta: step.delta, after: before + step.at });
      }
    }
    upTo(batch.entries.length);
    const state = this.#get();
    const empty = Object.keys(state.drafts).length === 0 && Object.keys(state.current).length === 0;
    const text = empty ? null : JSON.stringify(state);
    return { order, stored: text !== null && text.length > MAX_STORED_CHARS ? null : text };
  }

  #apply(line: string): void {
    let parsed: StreamLine;
    try {
      parsed = JSON.parse(line) as StreamLine;
    } catch {
      return;
    }
    const ev = parsed.event;
    if (!ev || typeof ev !== "object") return;
    const state = this.#get();
    const key = typeof parsed.parent_tool_use_id === "string" ? parsed.parent_tool_use_id : "";
    if (ev.type === "message_start") {
      const id = ev.message?.id;
      if (typeof id !== "string") return;
      const previous = state.current[key];
      if (previous !== undefined) delete state.drafts[previous]; // that message is over, stored or not
      state.current[key] = id;
      state.drafts[id] = { messageId: id, blocks: [] };
      return;
    }
    const id = state.current[key];
    if (id === undefined || typeof ev.index !== "number") return;
    if (ev.type === "content_block_start") {
      const cb = ev.content_block ?? {};
      const block: DraftBlock = { index: ev.index, type: String(cb.type ?? "text") };
      if (block.type === "text") block.text = typeof cb.text === "string" ? cb.text : "";
      if (block.type === "thinking") block.thinking = typeof cb.thinking === "string" ? cb.thinking : "";
      if (block.type === "tool_use") Object.assign(block, { partial_json: "", ...strings(cb, "name", "id") });
      this.#put(state, id, block);
    } else if (ev.type === "content_block_delta") {
      const d = ev.delta ?? {};
      const draft = (state.drafts[id] ??= { messageId: id, blocks: [] }); // a later block of a message whose earlier one was stored
      let block = draft.blocks.find((b) => b.index === ev.index);
      const field = d.type === "text_delta" ? "text" : d.type === "input_json_delta" ? "partial_json" : d.type === "thinking_delta" ? "thinking" : null;
      const piece = field === null ? undefined : d[field === "partial_json" ? "partial_json" : field];
      if (field === null || typeof piece !== "string") return;
      if (!block) {
        block = { index: ev.index, type: field === "text" ? "text" : field === "thinking" ? "thinking" : "tool_use" };
        this.#put(state, id, block);
      }
      block[field] = (block[field] ?? "") + piece;
    }
  }

  #put(state: State, id: string, block: DraftBlock): void {
    const draft = (state.drafts[id] ??= { messageId: id, blocks: [] });
    draft.blocks = [...draft.blocks.filter((b) => b.index !== block.index), block].sort((a, b) => a.index - b.index);
  }
}

const strings = (o: Record<string, unknown>, ...keys: string[]) =>
  Object.fromEntries(keys.filter((k) => typeof o[k] === "string").map((k) => [k, o[k] as string]));
