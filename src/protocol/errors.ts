/**
 * The error shape every failure is answered with, `{ "error": { "code", "message" } }`,
 * and the one place a client reads it back. No dependencies (no zod), so the
 * browser client can use it (the schema, `ErrorBody`, is in run.ts).
 */

import type { ErrorInfo } from "./run.ts";

/** A failure the relay answered with its error shape (or a bare HTTP status). */
export class RelayError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "RelayError";
    this.status = status;
    this.code = code;
  }
}

/** The `{ error: { code, message } }` in a body, if that is what it holds. */
export function errorInfoOf(body: unknown): ErrorInfo | null {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === "string" && typeof error.message === "string" ? { code: error.code, message: error.message } : null;
}

/** Reads a failed response's error body (falling back to its status and text). */
export async function readError(res: Response): Promise<RelayError> {
  const text = await res.text().catch(() => "");
  let info: ErrorInfo | null = null;
  try {
    info = errorInfoOf(JSON.parse(text));
  } catch {
    // not JSON: not our error shape
  }
  return new RelayError(res.status, info?.code ?? `http_${res.status}`, info?.message ?? (text.slice(0, 300) || `the relay answered ${res.status}`));
}
