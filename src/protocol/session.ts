/**
 * Claude Code's remote-session protocol, per run (docs/remote-session.md): the
 * body `@anthropic-ai/claude-agent-sdk/browser` POSTs to `…/session/events`
 * and the frames of `…/session/events/stream`. The session id is the run id.
 */
import { z } from "zod";
import { UserMessage } from "./inputs.ts";

/** The payload types a client may post. */
export const SESSION_PAYLOAD_TYPES = ["user", "control_request", "control_response"] as const;

/** A posted event's `uuid`: what makes its POST idempotent, and its `event_id` once stored. */
export const SessionUuid = z.guid("a payload's uuid must be a UUID (8-4-4-4-12 hex digits)").meta({
  description: "Makes the POST idempotent (the same uuid is stored once) and becomes the stored event's `event_id`.",
});

const RequestId = z.string().min(1, "a request_id must not be empty").max(128);

/** A user turn, as the browser SDK sends it. */
export const SessionUser = z.looseObject({
  type: z.literal("user"),
  message: UserMessage,
  uuid: SessionUuid,
  parent_tool_use_id: z.string().nullable().optional(),
  session_id: z.string().optional(),
});

/** A control request from a client: `initialize`, `interrupt`, `set_permission_mode`, … */
export const SessionControlRequest = z.looseObject({
  type: z.literal("control_request"),
  request_id: RequestId,
  request: z.looseObject({ subtype: z.string().min(1).max(64) }),
  uuid: SessionUuid,
});

/** A client's answer to the agent's `control_request` (e.g. a `can_use_tool` permission prompt). */
export const SessionControlResponse = z.looseObject({
  type: z.literal("control_response"),
  response: z.looseObject({ subtype: z.enum(["success", "error"]), request_id: RequestId }),
  uuid: SessionUuid,
});

export const SessionPayload = z
  .discriminatedUnion("type", [SessionUser, SessionControlRequest, SessionControlResponse], {
    error: (issue) => {
      if (issue.code !== "invalid_union") return undefined;
      const type = (issue.input as { type?: unknown } | null)?.type;
      const allowed = SESSION_PAYLOAD_TYPES.join(", ");
      return typeof type === "string"
        ? `unknown event type ${JSON.stringify(type.slice(0, 100))}; this relay takes ${allowed}`
        : `an event payload needs a type: ${allowed}`;
    },
  })
  .meta({ id: "SessionPayload", description: "A posted event's payload: a `user` message, a `control_request` or a `control_response`, each with a `uuid`." });
export type SessionPayload = z.infer<typeof SessionPayload>;

/** `POST …/session/events` body. */
export const SessionPost = z
  .strictObject({
    session_id: z.string().meta({ description: "The session id: the run id." }),
    events: z
      .array(z.object({ payload: SessionPayload }))
      .min(1, "send at least one event")
      .max(100, "send at most 100 events at a time"),
  })
  .meta({ id: "SessionPost", description: "`POST …/session/events` body, as `@anthropic-ai/claude-agent-sdk/browser` sends it." });
export type SessionPost = z.infer<typeof SessionPost>;

/** `POST …/session/events` reply: each event as stored (a retried uuid answers its first event). */
export const SessionPostReply = z
  .object({
    events: z.array(z.object({ event_id: z.string(), sequence_num: z.number().int().positive() })),
  })
  .meta({ id: "SessionPostReply", description: "`POST …/session/events` reply: each event's `event_id` (its uuid) and `sequence_num` (its log id)." });
export type SessionPostReply = z.infer<typeof SessionPostReply>;

/** Who wrote a durable event: the agent (`worker`: the runner's lines), a participant (`client`), or the relay itself. */
export const SessionSource = z.enum(["worker", "client", "relay"]);

/** The data of `event: client_event`. */
export const ClientEventData = z
  .object({
    event_id: z.string().meta({ description: "A posted event's uuid; for other entries the log id as text." }),
    sequence_num: z.number().int().positive().meta({ description: "The log id: dense over the run, the stream's `id:`." }),
    created_at: z.string().meta({ description: "When the relay stored it (RFC 3339)." }),
    source: SessionSource,
    payload: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "ClientEventData", description: "A durable event of the session stream: every log entry, in order." });

/** The data of `event: delivery_update`. */
export const DeliveryUpdateData = z
  .object({
    event_id: z.string(),
    status: z.enum(["DELIVERY_STATUS_RECEIVED", "DELIVERY_STATUS_PROCESSING", "DELIVERY_STATUS_PROCESSED"]),
    timestamp: z.string().optional(),
  })
  .meta({ id: "DeliveryUpdateData", description: "A posted user message reached the agent (`RECEIVED`), its turn began (`PROCESSING`) or ended (`PROCESSED`)." });
