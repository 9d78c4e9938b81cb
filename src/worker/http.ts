/** Reading a request: zod checks that answer 400 naming what was wrong, JSON bodies, cursors and producer headers. */
import type { Context } from "hono";
import type { z } from "zod";
import { Cursor, Producer, ProducerHeaders, type Cursor as CursorValue } from "../protocol/index.ts";
import { ApiError } from "./errors.ts";

/** Parses with a zod schema, or throws a 400 naming what was wrong. */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string, code = `bad_${what.replaceAll(" ", "_")}`): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${what}.${issue.path.join(".")}` : what;
  throw new ApiError(400, code, `invalid ${where}: ${issue?.message ?? "invalid"}`);
}

/** The media type of a request, lower-case, without parameters. */
export const mediaType = (c: Context): string => c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase() ?? "";

/** A JSON body: 415 unless sent as application/json, 400 unless it parses. */
export async function jsonBody(c: Context): Promise<unknown> {
  if (mediaType(c) !== "application/json") {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  try {
    return await c.req.json();
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
