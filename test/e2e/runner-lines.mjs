// A command for `runrelay exec` that prints numbered stream-json lines:
//   node runner-lines.mjs COUNT INTERVAL_MS [TAG] [--result] [--hold FILE]
// COUNT lines {"type":"assistant",…,"n":1…COUNT,"tag":TAG}, one every INTERVAL_MS (0: as fast as
// stdout takes them), then with --result a result line. It exits once its stdin ends, or at once
// after the result when stdin is not read; with --hold FILE it prints {"type":"stdin_closed"} when
// its stdin ends and exits only once FILE exists.
import { existsSync, watch } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const [count, interval, tag = "x"] = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1] === "--hold"));
const pad = "p".repeat(40);

const write = (line) => (process.stdout.write(line + "\n") ? Promise.resolve() : new Promise((r) => process.stdout.once("drain", r)));
for (let n = 1; n <= Number(count); n++) {
  await write(JSON.stringify({ type: "assistant", message: { role: "assistant", content: [{ type: "text", text: `line ${n}` }] }, n, tag, pad }));
  if (Number(interval) > 0) await sleep(Number(interval));
}
if (flag("--result")) await write(JSON.stringify({ type: "result", subtype: "success", is_error: false, result: "done" }));
const hold = value("--hold");
if (hold) {
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once("end", resolve));
  process.stdin.pause();
  await write(JSON.stringify({ type: "stdin_closed" }));
  await new Promise((resolve) => {
    const watcher = watch(dirname(hold), () => existsSync(hold) && (watcher.close(), resolve()));
    if (existsSync(hold)) (watcher.close(), resolve());
  });
}
// No process.exit(): it would drop what stdout has not written yet.
