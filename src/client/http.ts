/** The client's plain HTTP calls to one run: where a reconnect stands, and posting inputs. */
import { API_BASE } from "../protocol/constants.ts";
import { readError } from "../protocol/errors.ts";
import type { EventsPage, FinalStatus, InputAccepted } from "../protocol/index.ts";

export interface RunEnd {
  status: FinalStatus;
  lastEventId: number;
}

export class RunApi {
  /** `…/api/v1/workflows/:runId` */
  readonly base: string;
  readonly token: string | undefined;
  readonly doFetch: typeof fetch;

  constructor(url: string, runId: string, token: string | undefined, doFetch: typeof fetch) {
    this.base = `${url.replace(/\/+$/, "")}${API_BASE}/${encodeURIComponent(runId)}`;
    this.token = token;
    this.doFetch = doFetch;
  }

  /** A stream URL with the token in `?token=` (EventSource and browsers' WebSocket cannot set headers). */
  streamUrl(path: string): string {
    return `${this.base}${path}${this.token ? `&token=${encodeURIComponent(this.token)}` : ""}`;
  }

  /**
   * Before opening again: has the run ended with nothing left after `after` (an SSE stream would
   * answer 204, which EventSource reports only as an error)? Throws a `RelayError` when the relay
   * refuses (401, 403, 404 …).
   */
  async endedAfter(after: number): Promise<RunEnd | null> {
    const res = await this.doFetch(`${this.base}/events?after=${after}&limit=1`, { headers: this.#auth() });
    if (res.status !== 200) throw await readError(res);
    const page = (await res.json()) as EventsPage;
    return page.ended && page.events.length === 0 ? { status: page.status as FinalStatus, lastEventId: page.lastEventId } : null;
  }

  /** Posts an input (`/messages`, `/interrupt`); a refusal throws a `RelayError`. */
  async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<InputAccepted> {
    const res = await this.doFetch(`${this.base}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...this.#auth(), ...headers },
      body: JSON.stringify(body),
    });
    if (res.status !== 202) throw await readError(res);
    return (await res.json()) as InputAccepted;
  }

  #auth(): Record<string, string> {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }
}
