/** The client's plain HTTP calls to one run: where a reconnect stands, and posting inputs. */
import { API_BASE } from "../protocol/constants.ts";
import { readError } from "../protocol/errors.ts";
import type { EventsPage, FinalStatus, InputAccepted } from "../protocol/index.ts";

export interface RunEnd {
  status: FinalStatus;
  lastEventId: number;
}

/** A token, or a function that gives a fresh one (called before every connection and after a `token_expired`). */
export type TokenSource = string | (() => string | Promise<string>);

export class RunApi {
  /** `…/api/v1/workflows/:runId` */
  readonly base: string;
  readonly #source: TokenSource | undefined;
  readonly #fetch: typeof fetch;
  #token: string | undefined;

  constructor(url: string, runId: string, token: TokenSource | undefined, doFetch: typeof fetch) {
    this.base = `${url.replace(/\/+$/, "")}${API_BASE}/${encodeURIComponent(runId)}`;
    this.#source = token;
    this.#token = typeof token === "string" ? token : undefined;
    this.#fetch = doFetch;
  }

  /** True when tokens come from a function, so an expired one can be replaced. */
  get renews(): boolean {
    return typeof this.#source === "function";
  }

  /** Takes a fresh token from the token function (a fixed token stays as it is). */
  async refresh(): Promise<void> {
    if (typeof this.#source === "function") this.#token = await this.#source();
  }

  /** A stream URL with the token in `?token=` (EventSource and browsers' WebSocket cannot set headers). */
  streamUrl(path: string): string {
    return `${this.base}${path}${this.#token ? `&token=${encodeURIComponent(this.#token)}` : ""}`;
  }

  /**
   * Before opening again: has the run ended with nothing left after `after` (an SSE stream would
   * answer 204, which EventSource reports only as an error)? Throws a `RelayError` when the relay
   * refuses (401, 403, 404 …).
   */
  async endedAfter(after: number): Promise<RunEnd | null> {
    const res = await this.#request(`/events?after=${after}&limit=1`, {});
    if (res.status !== 200) throw await readError(res);
    const page = (await res.json()) as EventsPage;
    return page.ended && page.events.length === 0 ? { status: page.status as FinalStatus, lastEventId: page.lastEventId } : null;
  }

  /** Posts an input (`/messages`, `/interrupt` answer 202; `/session/events` 200); a refusal throws a `RelayError`. */
  async post<T = InputAccepted>(path: string, body: unknown, headers: Record<string, string> = {}, ok = 202): Promise<T> {
    const res = await this.#request(path, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
    if (res.status !== ok) throw await readError(res);
    return (await res.json()) as T;
  }

  /** A request with the token; a `401 token_expired` takes one fresh token from the token function and tries again. */
  async #request(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    const send = () => this.#fetch(`${this.base}${path}`, { ...init, headers: { ...init.headers, ...(this.#token && { Authorization: `Bearer ${this.#token}` }) } });
    const res = await send();
    if (res.status !== 401 || !this.renews) return res;
    const error = await readError(res.clone());
    if (error.code !== "token_expired") return res;
    await this.refresh();
    return send();
  }
}
