/**
 * The bench's floor: the least a relaying Durable Object Worker can do, to
 * show what the platform itself costs. One SQLite Durable Object per run;
 * no auth, no validation, no producers, no limits, no paging of replays.
 *
 *   POST /runs/:id/events       NDJSON body; each line one INSERT (row by row), then one frame per batch to every viewer
 *   GET  /runs/:id/stream       SSE: everything after the cursor, then live (Worker bridge over a hibernating WebSocket)
 *   GET  /runs/:id/ws           WebSocket (hibernation API): the same, as {"type":"events","events":[{id,data}]} frames
 *   GET  /runs/:id/events       ?after=N&limit=M: a JSON page (at most 1,000 entries)
 *   POST /runs/:id/messages     any body, queued as one row
 *   GET  /runs/:id/inputs       ?after=K&wait=S: the queued bodies after K, waiting up to S seconds for one
 *   GET  /runs/:id              { events, rowsWritten, waiting, clients }
 *   GET  /                      "floor": a plain request that touches no object
 *
 * SSE is carried the way runrelay carries it: the Worker holds the SSE
 * response and subscribes to the object over a WebSocket the object accepts
 * with the hibernation API; the object sends ready-made SSE text.
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  RUNS: DurableObjectNamespace<FloorObject>;
}

/** Replays are sent in frames of this many entries (a WebSocket message must stay well under 1 MiB). */
const REPLAY_FRAME = 500;
const MAX_PAGE = 1000;

const json = (body: string, status = 200) => new Response(body, { status, headers: { "Content-Type": "application/json" } });

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/") return new Response("floor\n");
    const match = /^\/runs\/([^/]+)(\/[a-z]*)?\/?$/.exec(url.pathname);
    if (!match) return new Response("not found\n", { status: 404 });
    const run = env.RUNS.get(env.RUNS.idFromName(decodeURIComponent(match[1]!)));
    if (match[2] !== "/stream") return run.fetch(request);
    // SSE: subscribe to the object over a WebSocket and copy its frames (SSE text) through.
    const after = request.headers.get("Last-Event-ID") || url.searchParams.get("after") || "0";
    const res = await run.fetch(`https://floor/subscribe?transport=sse&after=${encodeURIComponent(after)}`, { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) return res;
    ws.accept();
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    const drop = () => {
      try {
        ws.close(1000, "viewer gone");
      } catch {
        // already closed
      }
    };
    ws.addEventListener("message", (e) => {
      writer.write(encoder.encode(typeof e.data === "string" ? e.data : "")).catch(drop);
    });
    ws.addEventListener("close", () => writer.close().catch(() => {}));
    writer.closed.catch(drop);
    return new Response(readable, { headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache" } });
  },
} satisfies ExportedHandler<Env>;

type Transport = "sse" | "ws";
interface Row {
  id: number;
  data: string;
}

const frames: Record<Transport, (rows: readonly Row[]) => string> = {
  sse: (rows) => {
    let text = "";
    for (const r of rows) text += `id: ${r.id}\ndata: ${r.data}\n\n`;
    return text;
  },
  ws: (rows) => `{"type":"events","events":[${rows.map((r) => `{"id":${r.id},"data":${r.data}}`).join(",")}]}`,
};

export class FloorObject extends DurableObject<Env> {
  #last: number;
  #rowsWritten = 0;
  readonly #waiters = new Set<() => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, data TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS inputs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    this.#last = sql.exec<{ n: number }>("SELECT COALESCE(MAX(id), 0) AS n FROM events").one().n;
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/runs\/[^/]+/, "").replace(/\/$/, "");
    const method = request.method;
    if (path === "/subscribe" || (path === "/ws" && method === "GET")) {
      return this.#subscribe(url.searchParams.get("transport") === "sse" ? "sse" : "ws", Number(url.searchParams.get("after") ?? 0) || 0);
    }
    if (path === "/events" && method === "POST") return this.#append(await request.text());
    if (path === "/events" && method === "GET") {
      return this.#page(Number(url.searchParams.get("after") ?? 0) || 0, Math.min(Number(url.searchParams.get("limit")) || MAX_PAGE, MAX_PAGE));
    }
    if (path === "/messages" && method === "POST") return this.#queue(await request.text());
    if (path === "/inputs" && method === "GET") {
      return this.#poll(Number(url.searchParams.get("after") ?? 0) || 0, Math.min(Number(url.searchParams.get("wait") ?? 25) || 0, 30));
    }
    if (path === "" && method === "GET") {
      const clients = { sse: this.ctx.getWebSockets("sse").length, ws: this.ctx.getWebSockets("ws").length };
      return json(JSON.stringify({ events: this.#last, rowsWritten: this.#rowsWritten, waiting: this.#waiters.size, clients }));
    }
    return new Response("not found\n", { status: 404 });
  }

  /** One INSERT per line, then one frame per transport to every viewer. */
  #append(body: string): Response {
    const rows: Row[] = [];
    const sql = this.ctx.storage.sql;
    for (const raw of body.split("\n")) {
      const data = raw.trim();
      if (!data) continue;
      const id = this.#last + 1;
      this.#rowsWritten += sql.exec("INSERT INTO events (id, data) VALUES (?, ?)", id, data).rowsWritten;
      this.#last = id;
      rows.push({ id, data });
    }
    if (rows.length > 0) {
      const built: Partial<Record<Transport, string>> = {};
      for (const ws of this.ctx.getWebSockets()) {
        const t = this.ctx.getTags(ws)[0] as Transport;
        try {
          ws.send((built[t] ??= frames[t](rows)));
        } catch {
          // closing
        }
      }
    }
    return json(`{"lastEventId":${this.#last}}`);
  }

  /** A viewer: everything after `after`, sent at once (synchronously, so no live batch interleaves), then live. */
  #subscribe(transport: Transport, after: number): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [transport]);
    let chunk: Row[] = [];
    for (const row of this.ctx.storage.sql.exec<{ id: number; data: string }>("SELECT id, data FROM events WHERE id > ? ORDER BY id", after)) {
      chunk.push(row);
      if (chunk.length === REPLAY_FRAME) {
        server.send(frames[transport](chunk));
        chunk = [];
      }
    }
    if (chunk.length > 0) server.send(frames[transport](chunk));
    return new Response(null, { status: 101, webSocket: client });
  }

  #page(after: number, limit: number): Response {
    const rows = this.ctx.storage.sql
      .exec<{ id: number; data: string }>("SELECT id, data FROM events WHERE id > ? ORDER BY id LIMIT ?", after, limit)
      .toArray();
    return json(`{"events":[${rows.map((r) => `{"id":${r.id},"data":${r.data}}`).join(",")}],"lastEventId":${this.#last}}`);
  }

  #queue(body: string): Response {
    const cursor = this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO inputs (body) VALUES (?) RETURNING id", body);
    const id = cursor.one().id;
    this.#rowsWritten += cursor.rowsWritten;
    for (const wake of [...this.#waiters]) wake();
    return json(`{"id":${id}}`, 202);
  }

  async #poll(after: number, waitSeconds: number): Promise<Response> {
    const read = () =>
      this.ctx.storage.sql.exec<{ id: number; body: string }>("SELECT id, body FROM inputs WHERE id > ? ORDER BY id", after).toArray();
    let inputs = read();
    if (inputs.length === 0 && waitSeconds > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitSeconds * 1000);
        this.#waiters.add(done);
      });
      inputs = read();
    }
    return json(JSON.stringify({ inputs, ended: false }));
  }

  override webSocketMessage(): void {
    // viewers send nothing the floor answers
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }
}
