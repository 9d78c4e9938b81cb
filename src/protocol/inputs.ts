/** What participants send to a running agent, and how the runner receives it. */
import { z } from "zod";

/** A user turn as the Agent SDK takes it: text, or content blocks. */
export const UserMessage = z
  .strictObject({
    role: z.literal("user"),
    content: z.union([z.string().min(1, "a message needs text"), z.array(z.object({ type: z.string() }).catchall(z.any())).min(1)]),
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

export const InputKind = z.enum(["message", "interrupt"]).meta({ id: "InputKind" });
export type InputKind = z.infer<typeof InputKind>;

/** An input as the relay accepted it, before it is queued. */
export type NewInput =
  | { kind: "message"; message: UserMessage; clientId?: string }
  | { kind: "interrupt"; clientId?: string };

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
    clientId: z.string().optional(),
    createdAt: z.number().int(),
    eventId: z.number().int().positive(),
  })
  .meta({ id: "Input", description: "One queued input, as the runner receives it." });
export type Input = z.infer<typeof Input>;

/** `GET /inputs` reply. */
export const InputsReply = z
  .object({ inputs: z.array(Input), ended: z.boolean() })
  .meta({ id: "InputsReply", description: "`GET /inputs` reply: inputs after the cursor, oldest first, and whether the run has ended." });
export type InputsReply = z.infer<typeof InputsReply>;

/**
 * The data of `input` log entries, which every viewer sees: a message or an
 * interrupt was accepted, or inputs reached the runner (`delivered`).
 */
export const InputEntryData = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("message"), inputId: z.number().int(), message: UserMessage, clientId: z.string().optional() }),
    z.object({ kind: z.literal("interrupt"), inputId: z.number().int(), clientId: z.string().optional() }),
    z.object({ kind: z.literal("delivered"), inputIds: z.array(z.number().int()) }),
  ])
  .meta({ id: "InputEntryData", description: "The data of an `input` entry: an input was accepted, or inputs reached the runner." });
export type InputEntryData = z.infer<typeof InputEntryData>;

export const IdempotencyKey = z.string().min(1).max(256);

