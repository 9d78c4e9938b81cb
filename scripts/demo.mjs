// npm run demo: see runrelay work without Claude credentials. Starts the relay in development
// mode, replays a recorded Claude Code session into a new run through the runner (at a realistic
// pace; the chat view's message box and stop button work too), and prints the chat view's URL.
import { spawn } from "node:child_process";

const port = process.env.PORT ?? "8787";
const url = `http://127.0.0.1:${port}`;
const node = process.execPath;

const relay = spawn(node, ["node_modules/wrangler/bin/wrangler.js", "dev", "--var", "RELAY_DEV:true", "--ip", "127.0.0.1", "--port", port, "--show-interactive-dev-session=false"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const exited = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", resolve)));
try {
  await new Promise((resolve, reject) => {
    let out = "";
    relay.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("Ready on")) resolve();
    });
    relay.once("exit", () => reject(new Error(out.includes("Address already in use") ? `port ${port} is taken: try PORT=8788 npm run demo` : `wrangler dev stopped:\n${out}`)));
  });
} catch (err) {
  console.error(`runrelay demo: ${err.message}`);
  process.exit(1);
}

const runId = `demo-${Date.now().toString(36)}`;
const { token } = await (await fetch(`${url}/api/v1/dev/token?run=${runId}&scope=runner`)).json();
console.log(`\n  runrelay demo: open ${url}/?run=${runId}\n  (the replay starts in 3 seconds; type a message or press Stop while it runs; Ctrl-C ends the demo)\n`);
await new Promise((resolve) => setTimeout(resolve, 3000));

const runner = spawn(
  node,
  ["runner/cli.ts", "exec", "--url", url, "--run", runId, "--token", token, "--idle-timeout", "900", "--no-spool", "--", node, "scripts/replay.mjs", "demo/session.jsonl"],
  { stdio: "inherit" },
);
runner.on("exit", (code) => console.log(`\n  the runner finished (exit ${code}); the relay keeps serving ${url}/?run=${runId}. Ctrl-C to stop.`));

// Ctrl-C: the runner first (it ends the run as cancelled while the relay still listens), then the relay.
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  if (runner.exitCode === null) {
    runner.kill("SIGINT");
    const deadline = setTimeout(() => runner.kill("SIGKILL"), 5000);
    await exited(runner);
    clearTimeout(deadline);
  }
  relay.kill("SIGTERM");
  const deadline = setTimeout(() => relay.kill("SIGKILL"), 5000);
  await exited(relay);
  clearTimeout(deadline);
  process.exit(0);
};
process.on("SIGINT", stop).on("SIGTERM", stop);
