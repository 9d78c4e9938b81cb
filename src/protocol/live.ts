/**
 * Live deltas (docs/protocol.md, "Live deltas"): the runner's `stream_event`
 * lines are fanned out to viewers as they arrive and never stored; the run's
 * object keeps the in-flight message's draft, which a viewer that connects
 * mid-message receives first.
 */
import { z } from "zod";

/** One content block of a draft: what its deltas have said so far. */
export const DraftBlock = z
  .object({
    index: z.number().int().nonnegative().meta({ description: "The content block's index in its message." }),
    type: z.string().meta({ description: "`text`, `tool_use`, `thinking` (or another block type, with nothing accumulated)." }),
    text: z.string().optional().meta({ description: "`text` blocks: the `text_delta`s so far, joined." }),
    partial_json: z.string().optional().meta({ description: "`tool_use` blocks: the `input_json_delta` `partial_json`s so far, joined." }),
    thinking: z.string().optional().meta({ description: "`thinking` blocks: the `thinking_delta`s so far, joined." }),
    name: z.string().optional().meta({ description: "`tool_use` blocks: the tool's name." }),
    id: z.string().optional().meta({ description: "`tool_use` blocks: the tool use's id." }),
  })
  .meta({ id: "DraftBlock", description: "A content block of an in-flight message, as its deltas have built it so far." });
export type DraftBlock = z.infer<typeof DraftBlock>;

/** An in-flight message: its id (from `message_start`) and its blocks so far. */
export const Draft = z
  .object({
    messageId: z.string().meta({ description: "The message's id, from its `message_start` stream event." }),
    stream: z
      .string()
      .optional()
      .meta({ description: "The stream it is typed on: its stream events' `parent_tool_use_id` (\"\" for the main agent). The deltas that follow on that stream continue it." }),
    blocks: z.array(DraftBlock),
  })
  .meta({ id: "Draft", description: "An in-flight assistant message, as its deltas have built it so far." });
export type Draft = z.infer<typeof Draft>;

const After = z.number().int().nonnegative().meta({ description: "The id of the last durable entry before it." });

/** The data of SSE `event: delta` (and the body of a WebSocket `delta` frame). */
export const DeltaData = z
  .object({ after: After, event: z.record(z.string(), z.unknown()).meta({ description: "The `stream_event` line, as the runner sent it." }) })
  .meta({ id: "DeltaData", description: "A live delta: a `stream_event` line, never stored; `after` is the last durable id before it." });
export type DeltaData = z.infer<typeof DeltaData>;

/** The data of SSE `event: draft` (and the body of a WebSocket `draft` frame). */
export const DraftData = Draft.extend({ after: After }).meta({
  id: "DraftData",
  description: "A draft snapshot: the in-flight message so far, sent to a viewer that connects or catches up mid-message, before the deltas that follow.",
});
export type DraftData = z.infer<typeof DraftData>;

/** The top-level `type` of the lines that are live deltas. */
export const STREAM_EVENT_TYPE = "stream_event";
