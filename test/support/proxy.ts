/**
 * A loopback HTTP proxy in front of the relay that can lose traffic on cue:
 * refuse the next N connections (the relay looks down), or forward the next N
 * appends and then drop their responses (the relay stored the batch, the
 * runner never hears so).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";

export interface FaultyProxy {
  url: string;
  /** Refuse the next `n` requests outright. */
  refuse(n: number): void;
  /** Forward the next `n` POST /events, then cut the connection instead of answering. */
  dropResponses(n: number): void;
  /** Cuts every open connection now (streams and WebSockets included), as a network drop would. */
  cut(): void;
  /** What was lost so far. */
  stats: { refused: number; dropped: number; forwarded: number };
  stop(): Promise<void>;
}

export async function startProxy(target: string): Promise<FaultyProxy> {
  const upstream = new URL(target);
  let refuse = 0;
  let drop = 0;
  const stats = { refused: 0, dropped: 0, forwarded: 0 };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (refuse > 0) {
      refuse--;
      stats.refused++;
      req.socket.destroy();
      return;
    }
    const dropThis = drop > 0 && req.method === "POST" && req.url?.endsWith("/events");
    if (dropThis) drop--;
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (dropThis) {
          answer.resume();
          answer.on("end", () => {
            stats.dropped++;
            req.socket.destroy(); // the relay answered; the runner never hears it
          });
          return;
        }
        stats.forwarded++;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => req.socket.destroy());
    req.pipe(out);
  });

  // Every connection, so `cut` can drop them all; WebSocket upgrades are piped through as raw TCP.
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  server.on("connection", track);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (refuse > 0) {
      refuse--;
      stats.refused++;
      socket.destroy();
      return;
    }
    const out = connect(Number(upstream.port), upstream.hostname, () => {
      const headers: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      out.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) out.write(head);
      socket.pipe(out).pipe(socket);
    });
    track(out);
    out.on("error", () => socket.destroy());
    socket.on("error", () => out.destroy());
    socket.on("close", () => out.destroy());
    out.on("close", () => socket.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    refuse: (n) => void (refuse = n),
    dropResponses: (n) => void (drop = n),
    stats,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
