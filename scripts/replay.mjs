// Replays a recorded Claude Code session (stream-json, one object a line) on stdout, at a
// realistic pace, as if it were the agent; used by `npm run demo` through `runrelay exec`.
// Afterwards it answers each user message it reads on stdin (stream-json user lines) with a
// short canned turn, until its stdin closes. SIGINT (an interrupt) is reported like Claude Code.
//   node scripts/replay.mjs demo/session.jsonl [--fast]
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

const [file, ...flags] = process.argv.slice(2);
const fast = flags.includes("--fast");
const lines = readFileSync(file ?? "demo/session.jsonl", "utf8").split("\n").filter(Boolean);
const pause = (ms) => (fast ? Promise.resolve() : sleep(ms));
const print = (obj) => process.stdout.write((typeof obj === "string" ? obj : JSON.stringify(obj)) + "\n");

let interrupted = false;
process.on("SIGINT", () => (interrupted = true));

let sessionId = "demo";
for (const line of lines) {
  const d = JSON.parse(line);
  sessionId = d.session_id ?? sessionId;
  if (interrupted) break;
  print(line);
  await pause(d.type === "stream_event" ? 35 : d.type === "user" ? 900 : 350);
}
if (interrupted) {
  // What Claude Code reports when a turn is interrupted: a note, then the turn's result.
  print({ type: "user", message: { role: "user", content: [{ type: "text", text: "[Request interrupted by user]" }] }, session_id: sessionId });
  print({ type: "result", subtype: "error_during_execution", is_error: true, duration_ms: 0, num_turns: 1, session_id: sessionId, total_cost_usd: 0 });
  interrupted = false;
}

let turn = 0;
for await (const raw of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(raw);
  const content = msg.message?.content;
  const text = typeof content === "string" ? content : (content ?? []).map((c) => c.text ?? "").join(" ");
  turn++;
  await pause(600);
  const reply = `(demo replay) I received: "${text}". In a real run, Claude would now work on it.`;
  print({ type: "assistant", message: { id: `msg_demo_reply_${turn}`, type: "message", role: "assistant", model: "demo", content: [{ type: "text", text: reply }], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } }, parent_tool_use_id: null, session_id: sessionId, uuid: crypto.randomUUID() });
  print({ type: "result", subtype: "success", is_error: false, duration_ms: 600, num_turns: 1, result: reply, session_id: sessionId, total_cost_usd: 0, uuid: crypto.randomUUID() });
}
