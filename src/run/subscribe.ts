/**
 * The one request that reaches the run object over `fetch` rather than RPC: a
 * WebSocket upgrade for a viewer or for the Worker's SSE bridge (a 101 cannot
 * travel over RPC). Built here by the Worker and parsed here by the object.
 */
import { z } from "zod";
import { Cursor, EventId, RunId, Scope } from "../protocol/index.ts";

/** `session`: the remote-session stream (an SSE bridge framed as session-framing.ts). */
export const Transport = z.enum(["sse", "ws", "session"]);
export type Transport = z.infer<typeof Transport>;

const SubscribeParams = z.object({
  transport: Transport,
  /** The cursor, already validated by the Worker. */
  after: Cursor,
  run: RunId,
  /** The token's scope: a read-only WebSocket viewer may not send inputs. */
  scope: Scope,
  /** The token's expiry (seconds since the epoch); absent for the relay secret. The viewer's stream ends then. */
  exp: EventId.optional(),
});
export type SubscribeParams = z.output<typeof SubscribeParams>;

/** The upgrade request the Worker sends to the run object's `fetch`. */
export function subscribeRequest(p: SubscribeParams): Request {
  const query = new URLSearchParams({ transport: p.transport, after: String(p.after), run: p.run, scope: p.scope });
  if (p.exp !== undefined) query.set("exp", String(p.exp));
  return new Request(`https://run/subscribe?${query}`, { headers: { Upgrade: "websocket" } });
}

/** The subscription a request asks for, or null if it is not one. */
export function parseSubscribe(request: Request): SubscribeParams | null {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return null;
  const parsed = SubscribeParams.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  return parsed.success ? parsed.data : null;
}
