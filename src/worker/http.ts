/** Reading a request: zod checks that answer 400 naming what was wrong, JSON bodies, cursors and producer headers. */
import type { Context } from "hono";
import type { z } from "zod";
import { Cursor, issueOf, nestsDeeperThan, Producer, ProducerHeaders, tooDeepMessage, type Cursor as CursorValue } from "../protocol/index.ts";
import { limits, type Env } from "./config.ts";
import { ApiError } from "./errors.ts";
import { routeOf } from "./log.ts";

/** Parses with a zod schema, or throws a 400 naming what was wrong. */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string, code = `bad_${what.replaceAll(" ", "_")}`): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = issueOf(result.error.issues);
  const where = issue?.path.length ? `${what}.${issue.path.join(".")}` : what;
  throw new ApiError(400, code, `invalid ${where}: ${issue?.message ?? "invalid"}`);
}

/** The media type of a request, lower-case, without parameters. */
export const mediaType = (c: Context): string => c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase() ?? "";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * The routes whose JSON body may also come as `text/plain` (with or without a
 * charset): what `fetch(url, { method: "POST", body: JSON.stringify(…) })`
 * sends when no Content-Type is set, as the snippets existing frontends use
 * do. In every mode: the token, not the media type, is the protection (a
 * cross-origin text/plain POST needs no preflight, but still needs a token).
 */
const TEXT_PLAIN_ROUTES = ["/:runId/messages", "/:runId/interrupt"];
const takesTextPlain = (c: Context): boolean => {
  const route = routeOf(c);
  return c.req.method === "POST" && route !== undefined && TEXT_PLAIN_ROUTES.some((r) => route.endsWith(r));
};

/**
 * A JSON body: 415 unless sent as application/json (or, on `POST /messages`
 * and `POST /interrupt`, text/plain); 400 `invalid_utf8` unless
 * its bytes are UTF-8, `too_deep` if it nests deeper than MAX_JSON_DEPTH
 * (checked on the text, before it is parsed), `invalid_json` unless it parses.
 */
export async function jsonBody<E extends { Bindings: Env }>(c: Context<E>): Promise<unknown> {
  const type = mediaType(c);
  if (type !== "application/json" && !(type === "text/plain" && takesTextPlain(c))) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  let text: string;
  try {
    text = utf8.decode(await c.req.arrayBuffer());
  } catch {
    throw new ApiError(400, "invalid_utf8", "the body is not valid UTF-8");
  }
  const maxDepth = limits(c.env).maxJsonDepth;
  if (nestsDeeperThan(text, maxDepth)) throw new ApiError(400, "too_deep", tooDeepMessage("the body", maxDepth));
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
}

export function cursorOf(value: string | undefined): CursorValue {
  return check(Cursor, value ?? "0", "cursor", "bad_cursor");
}

/** `Producer-Id`, `Producer-Epoch`, `Producer-Seq`: all three or none. */
export function producerOf(headers: Headers): Producer | undefined {
  const id = headers.get(ProducerHeaders.id);
  const epoch = headers.get(ProducerHeaders.epoch);
  const seq = headers.get(ProducerHeaders.seq);
  if (id === null && epoch === null && seq === null) return undefined;
  if (id === null || epoch === null || seq === null) {
    throw new ApiError(400, "bad_producer", `send ${ProducerHeaders.id}, ${ProducerHeaders.epoch} and ${ProducerHeaders.seq} together, or none of them`);
  }
  return check(Producer, { id, epoch, seq }, "producer headers", "bad_producer");
}

/**
 * `Producer-Id` and `Producer-Epoch` on a runner's long-poll (both or neither): the epoch it
 * claimed, so the relay refuses the polls of a runner that another has taken over.
 */
export function fenceOf(headers: Headers): { id: string; epoch: number } | undefined {
  const id = headers.get(ProducerHeaders.id);
  const epoch = headers.get(ProducerHeaders.epoch);
  if (id === null && epoch === null) return undefined;
  if (id === null || epoch === null) {
    throw new ApiError(400, "bad_producer", `send ${ProducerHeaders.id} and ${ProducerHeaders.epoch} together, or neither`);
  }
  const { id: checkedId, epoch: checkedEpoch } = check(Producer, { id, epoch, seq: "0" }, "producer headers", "bad_producer");
  return { id: checkedId, epoch: checkedEpoch };
}
