// Another process writing a _stream.jsonl line by line: node write-lines.mjs FILE FROM TO [result]
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
const [file, from, to, result] = process.argv.slice(2);
for (let n = Number(from); n <= Number(to); n++) {
  appendFileSync(file, JSON.stringify({ type: "assistant", message: { role: "assistant", content: [{ type: "text", text: `line ${n}` }] }, n }) + "\n");
  await sleep(2);
}
if (result) appendFileSync(file, JSON.stringify({ type: "result", subtype: "success", is_error: false, result: "done" }) + "\n");
