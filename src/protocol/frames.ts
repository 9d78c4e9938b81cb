/** The WebSocket frames of `GET /ws`, both ways. */
import { z } from "zod";
import { ClientId, MessageInput } from "./inputs.ts";
import { Entry, ErrorInfo, FinalStatus } from "./run.ts";

/** Frames the relay sends on `GET /ws`. */
export const ServerFrame = z.discriminatedUnion("type", [
  /** One frame per appended batch (or replay page), ids strictly increasing. */
  z.object({ type: z.literal("events"), events: z.array(Entry) }),
  /** The run has ended and the client has everything; the socket closes next. */
  z.object({ type: z.literal("end"), status: FinalStatus, lastEventId: z.number().int() }),
  /** A client frame was refused; `clientId` echoes the frame's, if it had one. */
  z.object({ type: z.literal("error"), error: ErrorInfo, clientId: z.string().optional() }),
  z.object({ type: z.literal("pong") }),
  /** A `message` or `interrupt` frame was queued as input `id`, logged as entry `eventId`. */
  z.object({ type: z.literal("ack"), id: z.number().int(), eventId: z.number().int(), clientId: z.string().optional() }),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/** Frames a client may send on `GET /ws`. */
export const ClientFrame = z.union([
  /** Replay from `after` (exclusive), then go on live. */
  z.strictObject({ type: z.literal("resume"), after: z.number().int().nonnegative() }),
  /** Send a message to the agent, like `POST /messages` (`text` is short for a plain-text `message`). */
  z.strictObject({ type: z.literal("message"), text: z.string().min(1, "a message needs text"), clientId: ClientId.optional() }),
  z.strictObject({ type: z.literal("message"), message: MessageInput, clientId: ClientId.optional() }),
  /** Ask the agent to stop its turn, like `POST /interrupt`. */
  z.strictObject({ type: z.literal("interrupt"), clientId: ClientId.optional() }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

