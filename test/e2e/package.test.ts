/**
 * The package as people install it: `npm pack`, installed into an empty
 * folder with the machine's own Node and npm. A frontend that takes it for
 * the client gets no Agent SDK; the CLI and the client load; the client
 * bundles for browsers with no Node built-ins; and a Worker of someone
 * else's that mounts the relay under /relay passes the smoke test under a
 * real `wrangler dev`.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smoke } from "../support/smoke";
import { startRelay, type Relay } from "../support/wrangler";
import { RELAY_VARS, tokenFor } from "./auth";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/** The shell's PATH without this project's node_modules/.bin: the machine's own Node and npm. */
const machine = { ...process.env, PATH: (process.env.PATH ?? "").split(delimiter).filter((p) => !p.includes("node_modules")).join(delimiter) };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runrelay-package-"));
  await run("npm", ["pack", "--pack-destination", dir], { cwd: ROOT });
  const tarball = (await readdir(dir)).find((f) => f.endsWith(".tgz"))!;
  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball)], { cwd: app, env: machine });
}, 180_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

const app = () => join(dir, "app");

describe("the package, installed from npm pack", () => {
  it("installs no Agent SDK: a frontend that takes the client gets no platform binaries", async () => {
    expect(existsSync(join(app(), "node_modules", "runrelay", "dist", "client.js"))).toBe(true);
    expect(existsSync(join(app(), "node_modules", "@anthropic-ai"))).toBe(false);
  });

  it("runs `npx runrelay --help` and imports runrelay/client on the machine's Node", async () => {
    const help = await run("npx", ["runrelay", "--help"], { cwd: app(), env: machine });
    expect(help.stdout).toContain("runrelay sdk  --prompt TEXT");
    const client = await run("node", ["-e", "import('runrelay/client').then(m => console.log(typeof m.connect))"], { cwd: app(), env: machine });
    expect(client.stdout.trim()).toBe("function");
  });

  it("says how to add the Agent SDK when `runrelay sdk` needs it", async () => {
    const sdk = await run("npx", ["runrelay", "sdk", "--url", "http://127.0.0.1:9", "--run", "r1", "--prompt", "hi", "--no-spool"], { cwd: app(), env: machine }).catch((e) => e);
    expect(sdk.code).toBe(2);
    expect(sdk.stderr).toContain("npm install @anthropic-ai/claude-agent-sdk");
  });

  it("bundles the client for browsers with no Agent SDK code and no Node built-ins", async () => {
    await writeFile(join(app(), "page.js"), 'import { connect } from "runrelay/client";\nwindow.run = connect;\n');
    const out = await build({ absWorkingDir: app(), entryPoints: ["page.js"], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent" });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((i) => i.includes("@anthropic-ai") || i.startsWith("node:") || i.includes("/zod/"))).toEqual([]);
    expect(out.outputFiles[0]!.text).not.toContain("@anthropic-ai");
  });

  describe("mounted under /relay in someone else's Worker", () => {
    let relay: Relay;
    beforeAll(async () => {
      await writeFile(
        join(app(), "worker.js"),
        [
          'import { Hono } from "hono";',
          'import { createRelay, RunObject } from "runrelay";',
          "const app = new Hono();",
          'app.get("/", (c) => c.text("their own worker"));',
          'app.route("/relay", createRelay());',
          "export { RunObject };",
          "export default app;",
        ].join("\n"),
      );
      await writeFile(
        join(app(), "wrangler.toml"),
        [
          'name = "their-worker"',
          'main = "worker.js"',
          'compatibility_date = "2026-08-01"',
          "[[durable_objects.bindings]]",
          'name = "RUNS"',
          'class_name = "RunObject"',
          "[[migrations]]",
          'tag = "v1"',
          'new_sqlite_classes = ["RunObject"]',
        ].join("\n"),
      );
      relay = await startRelay({ cwd: app(), vars: RELAY_VARS });
    }, 60_000);
    afterAll(() => relay?.stop());

    it("serves its own routes and passes the relay's smoke test under /relay", async () => {
      expect(await (await fetch(relay.url)).text()).toBe("their own worker");
      await smoke(`${relay.url}/relay`, tokenFor);
    });
  });
});
