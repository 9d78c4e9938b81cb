/**
 * Errors: one JSON shape, `{ "error": { "code", "message" } }`, for every
 * failure. Worker code throws `ApiError`; the run object returns a `Failure`
 * over RPC (expected failures are values there, not exceptions) and the Worker
 * turns it into an `ApiError` with `unwrap`.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorBody } from "../protocol/index.ts";
import type { ErrorStatus, Failure } from "../run/result.ts";
import { logLine, routeOf } from "./log.ts";

export type { ErrorStatus };

export class ApiError extends HTTPException {
  constructor(
    status: ErrorStatus,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status as ContentfulStatusCode, { message });
  }

  static from({ error }: Failure): ApiError {
    return new ApiError(error.status, error.code, error.message, error.headers);
  }
}

/** Returns the success value, or throws the failure as an `ApiError`. */
export function unwrap<R extends { ok: true } | Failure>(result: R): Exclude<R, { ok: false }> {
  if (!result.ok) throw ApiError.from(result as Failure);
  return result as Exclude<R, { ok: false }>;
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export function errorResponse(status: ErrorStatus, code: string, message: string, headers?: Record<string, string>) {
  return Response.json(errorBody(code, message), { status, headers });
}

/** hono `onError`: every thrown error becomes the JSON error shape. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return errorResponse(err.status as ErrorStatus, err.code, err.message, err.headers);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ErrorStatus;
    return errorResponse(status, status === 413 ? "payload_too_large" : "http_error", err.message || "request failed");
  }
  // One JSON line, with the path only: never the query, which may hold a token.
  logLine({ type: "error", method: c.req.method, route: routeOf(c), path: c.req.path, message: err.message, stack: err.stack }, "error");
  return errorResponse(500, "internal_error", "the relay failed to handle this request");
}
