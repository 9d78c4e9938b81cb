/**
 * What the run object's RPC methods return: the success fields, or a
 * `Failure` (expected failures are values over RPC, not exceptions). The
 * Worker turns a `Failure` into its error response.
 */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 426 | 429 | 500;

export interface Failure {
  ok: false;
  error: { status: ErrorStatus; code: string; message: string; headers?: Record<string, string> };
}

/** A value returned by the run object: the success fields, or a `Failure`. */
export type Result<T extends object> = ({ ok: true } & T) | Failure;

export const fail = (
  status: ErrorStatus,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Failure => ({ ok: false, error: { status, code, message, ...(headers && { headers }) } });

/** A failure as an HTTP response with the error shape, for the object's own `fetch`. */
export const failureResponse = ({ error }: Failure): Response =>
  Response.json({ error: { code: error.code, message: error.message } }, { status: error.status, headers: error.headers });

/** The run has ended: it takes no more events or inputs. */
export const endedFailure = (state: { ended: string | null }): Failure | null =>
  state.ended ? fail(409, "run_ended", `the run has ended (${state.ended}); it takes no more events`) : null;

export const utf8Length = (text: string): number => new TextEncoder().encode(text).length;
