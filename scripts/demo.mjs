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
await new Promise((resolve, reject) => {
  let out = "";
  relay.stdout.on("data", (chunk) => {
    out += chunk;
    if (out.includes("Ready on")) resolve();
  });
  relay.once("exit", (code) => reject(new Error(`wrangler dev exited (${code}):\n${out}`)));
});

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

const stop = () => {
  runner.kill("SIGINT");
  relay.kill("SIGTERM");
  setTimeout(() => process.exit(0), 500);
};
process.on("SIGINT", stop).on("SIGTERM", stop);
