/** What participants send to a running agent, and how the runner receives it. */
import { z } from "zod";

/** The content-block types a user message may hold (the Messages API's user content). */
export const CONTENT_BLOCK_TYPES = ["text", "image", "document", "tool_result", "search_result"] as const;

const block = <T extends (typeof CONTENT_BLOCK_TYPES)[number]>(type: T, fields: z.ZodRawShape = {}) =>
  z.looseObject({ type: z.literal(type), ...fields });

/** One content block of a user message: `text` (with a string `text`), `image`, `document`, `tool_result` or `search_result`. */
export const ContentBlock = z
  .discriminatedUnion(
    "type",
    [block("text", { text: z.string() }), block("image"), block("document"), block("tool_result"), block("search_result")],
    {
      error: (issue) => {
        if (issue.code !== "invalid_union") return undefined;
        const type = (issue.input as { type?: unknown } | null)?.type;
        const allowed = CONTENT_BLOCK_TYPES.join(", ");
        return typeof type === "string"
          ? `unknown content block type ${JSON.stringify(type.slice(0, 100))}; a user message may hold ${allowed}`
          : `a content block needs a type: ${allowed}`;
      },
    },
  )
  .meta({ id: "ContentBlock", description: `A content block of a user message: ${CONTENT_BLOCK_TYPES.map((t) => `\`${t}\``).join(", ")}.` });

/** A user turn as the Agent SDK takes it: text, or content blocks. */
export const UserMessage = z
  .strictObject({
    role: z.literal("user"),
    content: z.union([z.string().min(1, "a message needs text"), z.array(ContentBlock).min(1, "a message needs content")]),
  })
  .meta({ id: "UserMessage", description: "A user turn as the Agent SDK takes it: text, or content blocks." });
export type UserMessage = z.infer<typeof UserMessage>;

/** What a participant may send as a message: plain text (the seed's shape) or an SDK user message. */
export const MessageInput = z
  .union([z.string().min(1, "a message needs text"), UserMessage])
  .meta({ id: "MessageInput", description: "Plain text (stored as a user message), or an SDK user message." });
export const toUserMessage = (m: z.infer<typeof MessageInput>): UserMessage =>
  typeof m === "string" ? { role: "user", content: m } : m;

export const ClientId = z.string().min(1).max(128).meta({ description: "Echoed in the log, so a client can recognise its own input." });

/** `POST /messages` body. */
export const MessageBody = z
  .strictObject({ message: MessageInput, clientId: ClientId.optional() })
  .meta({ id: "MessageBody", description: "`POST /messages` body." });

/** `POST /interrupt` body (optional). */
export const InterruptBody = z
  .strictObject({ clientId: ClientId.optional() })
  .meta({ id: "InterruptBody", description: "`POST /interrupt` body (optional)." });

export const InputKind = z.enum(["message", "interrupt", "control"]).meta({
  id: "InputKind",
  description: "`message` (a user turn), `interrupt` (stop the turn), `control` (a Claude Code control message from the remote-session API: a `control_response` answering the agent, or a `control_request` such as `initialize`).",
});
export type InputKind = z.infer<typeof InputKind>;

/** A Claude Code control message (`control_request` / `control_response`), as a participant sent it: a JSON object with a `type`. */
export type ControlPayload = Record<string, unknown> & { type: "control_request" | "control_response"; uuid: string };

/**
 * An input as the relay accepted it, before it is queued. A message's `uuid` is the
 * one the runner hands the agent (Claude Code's `command_lifecycle` lines carry it);
 * the relay makes one when the sender gave none.
 */
export type NewInput =
  | { kind: "message"; message: UserMessage; uuid?: string; clientId?: string }
  | { kind: "interrupt"; clientId?: string }
  | { kind: "control"; payload: ControlPayload; clientId?: string };

/** `POST /messages` and `POST /interrupt` reply (202). */
export const InputAccepted = z
  .object({
    id: z.number().int().positive().meta({ description: "The input's id (dense per run, separate from event ids)." }),
    eventId: z.number().int().positive().meta({ description: "The id of the `input` entry that logged it." }),
  })
  .meta({ id: "InputAccepted", description: "`POST /messages` and `POST /interrupt` reply: the input was queued." });
export type InputAccepted = z.infer<typeof InputAccepted>;

/** One queued input, as the runner receives it from `GET /inputs`. */
export const Input = z
  .object({
    id: z.number().int().positive(),
    kind: InputKind,
    message: UserMessage.optional(),
    uuid: z.string().optional().meta({ description: "A message's uuid: hand it to the agent with the message." }),
    payload: z.record(z.string(), z.unknown()).optional().meta({ description: "A `control` input's control message, as sent." }),
    clientId: z.string().optional(),
    createdAt: z.number().int(),
    eventId: z.number().int().positive(),
  })
  .meta({ id: "Input", description: "One queued input, as the runner receives it." });
export type Input = z.infer<typeof Input>;

/** `GET /inputs` reply. */
export const InputsReply = z
  .object({
    inputs: z.array(Input),
    ended: z.boolean(),
    leaseSeconds: z.number().int().positive().meta({
      description: "`RUNNER_LEASE_SECONDS`: a run whose runner is not heard from (a poll, a heartbeat, any runner request) for this long becomes `stalled`.",
    }),
  })
  .meta({ id: "InputsReply", description: "`GET /inputs` reply: inputs after the cursor, oldest first, whether the run has ended, and the runner's lease." });
export type InputsReply = z.infer<typeof InputsReply>;

/**
 * The data of `input` log entries, which every viewer sees: a message or an
 * interrupt was accepted, inputs reached the runner (`delivered`), or they
 * never will (`undelivered`: the run ended, or the runner's session closed).
 */
export const InputEntryData = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("message"), inputId: z.number().int(), message: UserMessage, uuid: z.string().optional(), clientId: z.string().optional() }),
    z.object({ kind: z.literal("interrupt"), inputId: z.number().int(), clientId: z.string().optional() }),
    z.object({ kind: z.literal("control"), inputId: z.number().int(), payload: z.record(z.string(), z.unknown()), clientId: z.string().optional() }),
    z.object({ kind: z.literal("delivered"), inputIds: z.array(z.number().int()) }),
    z.object({ kind: z.literal("undelivered"), inputIds: z.array(z.number().int()), reason: z.string() }),
  ])
  .meta({
    id: "InputEntryData",
    description:
      "The data of an `input` entry: an input was accepted (`message`, `interrupt`, `control`: a control message such as the answer to a permission prompt), inputs reached the runner (`delivered`), or will never reach it (`undelivered`).",
  });
export type InputEntryData = z.infer<typeof InputEntryData>;

export const IdempotencyKey = z.string().min(1).max(256);

/** The reason `POST /complete` (or a lost runner) gives the inputs still queued when the run ends. */
export const RUN_ENDED_REASON = "run_ended";

/** `POST /inputs/undelivered` body (runner): these inputs will never reach the agent. */
export const UndeliveredBody = z
  .strictObject({
    inputIds: z.array(z.number().int()).min(1).max(1000).meta({ description: "1 to 1,000 input ids; ids no longer queued are ignored." }),
    reason: z.string().min(1).max(200).meta({ description: "Why, e.g. `session_closed`." }),
  })
  .meta({ id: "UndeliveredBody", description: "`POST /inputs/undelivered` body: queued inputs the runner will never deliver." });
export type UndeliveredBody = z.infer<typeof UndeliveredBody>;
