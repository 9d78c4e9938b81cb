/**
 * A small fake of the Anthropic Messages API on loopback, so the real Claude
 * Code binary runs fully offline (ANTHROPIC_BASE_URL, any ANTHROPIC_API_KEY).
 * Replies are scripted from the last user turn:
 *   a tool_result          → text "done: <tool output>"
 *   text with "[tool]"     → a Bash tool use: echo tool-ran
 *   text with "[write P]"  → a Write tool use: the file P (an absolute path) with "written by the agent\n"
 *   text with "[hang]"     → starts a text reply and never finishes it (until the client goes away)
 *   text with "[stream N]" → text "w0 w1 … w(N-1) " streamed as N text deltas (`streamText(N)`); a test may
 *                            pause it after k deltas (`holdStream`)
 *   anything else          → text "echo: <the text>"
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Inbox } from "./inbox";

export interface FakeRequest {
  n: number;
  /** Text of the last user turn's text blocks. */
  lastUserText: string;
  /** The last user turn carries a tool result. */
  toolResult: string | undefined;
  body: { model?: string; stream?: boolean; messages?: { role: string; content: unknown }[] };
}

export interface FakeAnthropic {
  url: string;
  requests: Inbox<FakeRequest>;
  /** Numbers of requests whose client went away before the reply finished. */
  abandoned: Inbox<number>;
  env: Record<string, string>;
  /**
   * Pauses the streamed reply to the next request whose last user text holds `marker` after `after`
   * deltas (N: after the last, before the message ends): `reached` resolves then, and `release()`
   * sends the rest. Several holds on one reply pause it at each.
   */
  holdStream(marker: string, after: number): { reached: Promise<void>; release(): void };
  stop(): Promise<void>;
}

/** What a `[write P]` turn writes. */
export const WRITTEN = "written by the agent\n";
const writeTo = (text: string) => /\[write ([^\]]+)\]/.exec(text)?.[1];

/** The pieces of a `[stream N]` reply, one per text delta. */
export const streamPieces = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);

interface Hold {
  marker: string;
  after: number;
  reached: () => void;
  released: Promise<void>;
}

type Block = { type: string; text?: string; content?: unknown };

function lastUser(body: FakeRequest["body"]): { text: string; toolResult: string | undefined } {
  const turn = body.messages?.filter((m) => m.role === "user").at(-1);
  const blocks: Block[] = typeof turn?.content === "string" ? [{ type: "text", text: turn.content }] : ((turn?.content as Block[]) ?? []);
  const text = blocks.filter((b) => b.type === "text").map((b) => b.text ?? "").join("\n");
  const result = blocks.find((b) => b.type === "tool_result");
  const toolResult = result === undefined ? undefined : typeof result.content === "string" ? result.content : JSON.stringify(result.content);
  return { text, toolResult };
}

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const requests = new Inbox<FakeRequest>();
  const abandoned = new Inbox<number>();
  const holds: Hold[] = [];
  let n = 0;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
      res.writeHead(404, { "Content-Type": "application/json" }).end('{"type":"error","error":{"type":"not_found_error","message":"not here"}}');
      return;
    }
    if (req.url.startsWith("/v1/messages/count_tokens")) {
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"input_tokens":10}');
      return;
    }
    const body = JSON.parse(raw) as FakeRequest["body"];
    const id = ++n;
    const { text, toolResult } = lastUser(body);
    requests.push({ n: id, lastUserText: text, toolResult, body });

    const message = { id: `msg_fake_${id}`, type: "message", role: "assistant", model: body.model ?? "fake", content: [] as unknown[], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } };
    const streamed = /\[stream (\d+)\]/.exec(text);
    const reply: { text?: string; tool?: { name: string; input: object }; hang?: boolean; pieces?: string[] } =
      toolResult !== undefined ? { text: `done: ${toolResult.trim()}` }
      : streamed ? { text: streamPieces(Number(streamed[1])).join(""), pieces: streamPieces(Number(streamed[1])) }
      : text.includes("[tool]") ? { tool: { name: "Bash", input: { command: "echo tool-ran", description: "Print a word" } } }
      : writeTo(text) ? { tool: { name: "Write", input: { file_path: writeTo(text), content: WRITTEN } } }
      : text.includes("[hang]") ? { text: "thinking it over", hang: true }
      : { text: `echo: ${text}` };

    if (!body.stream) {
      const content = reply.tool ? [{ type: "tool_use", id: `toolu_${id}`, ...reply.tool }] : [{ type: "text", text: reply.text }];
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ ...message, content, stop_reason: reply.tool ? "tool_use" : "end_turn" }));
      return;
    }
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    send("message_start", { message });
    if (reply.tool) {
      send("content_block_start", { index: 0, content_block: { type: "tool_use", id: `toolu_${id}`, name: reply.tool.name, input: {} } });
      send("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify(reply.tool.input) } });
    } else if (reply.pieces) {
      send("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      const mine = holds.filter((h) => text.includes(h.marker));
      for (const h of mine) holds.splice(holds.indexOf(h), 1);
      for (const [i, piece] of [...reply.pieces, null].entries()) {
        for (const hold of mine.filter((h) => h.after === i)) {
          hold.reached();
          await hold.released;
        }
        if (piece === null) break;
        send("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } });
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5)); // a stream, not one burst
      }
    } else {
      send("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      send("content_block_delta", { index: 0, delta: { type: "text_delta", text: reply.text } });
    }
    if (reply.hang) {
      res.on("close", () => abandoned.push(id));
      return; // never finishes: the client has to give up (an interrupt)
    }
    send("content_block_stop", { index: 0 });
    send("message_delta", { delta: { stop_reason: reply.tool ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 5 } });
    send("message_stop", {});
    res.end();
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    requests,
    abandoned,
    holdStream(marker, after) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      holds.push({ marker, after, reached, released: new Promise<void>((r) => (release = r)) });
      return { reached: reachedP, release: () => release() };
    },
    env: { ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: "any", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The Claude Code executable that ships in the Agent SDK's platform package. */
export async function claudeExecutable(): Promise<string> {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const pkg = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`;
  return require.resolve(`${pkg}/claude`);
}
