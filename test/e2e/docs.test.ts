/**
 * Every documented command works verbatim. The shell blocks of README.md and
 * docs/*.md fenced as ```` ```sh runnable ```` are run with bash, one block at
 * a time, against a fresh `npm run dev`-equivalent relay (RELAY_DEV=true, no
 * secret; `http://localhost:8787` becomes its URL), from the repository root.
 *
 * In a block:
 * - a command is a line, with the lines that follow it while it ends with `\` or `|`;
 * - the `# …` lines right after a command (no blank line between) are its output:
 *   JSON is compared structurally, other text line by line; `…` matches anything
 *   (a value, the rest of an object or array, part of a string or line);
 * - a command whose comment lines just before it say "second terminal" runs in the
 *   background; it must have ended (or is stopped) once the rest of the block has run,
 *   and its output is checked then.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type Relay } from "../support/wrangler";

/** The shell's PATH without this project's node_modules/.bin: the machine's own Node and npm, as a reader has. */
const MACHINE = { ...process.env, PATH: (process.env.PATH ?? "").split(delimiter).filter((p) => !p.includes("node_modules")).join(delimiter) };
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOCS = ["README.md", ...(await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

export interface Command {
  text: string;
  expected: string[];
  background: boolean;
  line: number;
}
export interface Block {
  file: string;
  line: number;
  commands: Command[];
}

/** The runnable blocks of a Markdown file. */
export function runnableBlocks(file: string, markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash)\s+runnable\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
    blocks.push({ file, line: start, commands: commandsOf(body, start + 1) });
  }
  return blocks;
}

function commandsOf(body: string[], firstLine: number): Command[] {
  const commands: Command[] = [];
  let prose: string[] = []; // the comment lines since the last blank line or command
  for (let i = 0; i < body.length; ) {
    const line = body[i]!;
    if (line.trim() === "") {
      prose = [];
      i++;
      continue;
    }
    if (line.trimStart().startsWith("#")) {
      prose.push(line);
      i++;
      continue;
    }
    const at = i;
    const text = [line];
    while (/[\\|]\s*$/.test(body[i]!) && i + 1 < body.length) text.push(body[++i]!);
    i++;
    const expected: string[] = [];
    while (i < body.length && /^#( |$)/.test(body[i]!)) expected.push(body[i++]!.replace(/^# ?/, ""));
    commands.push({ text: text.join("\n"), expected, background: prose.some((p) => /second terminal/i.test(p)), line: firstLine + at });
    prose = [];
  }
  return commands;
}

// ---- comparing outputs -------------------------------------------------------------------

const ANY = "\u0000any";
const MORE = "\u0000more";

/** The shown JSON as a value, with `…` turned into wildcards; undefined if it is not JSON. */
export function shownJson(text: string): unknown {
  let out = "";
  let inString = false;
  const open: string[] = []; // the brackets around this point
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch === "…" ? ANY : ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") open.push(ch);
    else if (ch === "}" || ch === "]") open.pop();
    if (ch !== "…") {
      out += ch;
      continue;
    }
    const before = out.trimEnd().at(-1);
    if (before === ":") out += JSON.stringify(ANY); // any value
    else if ((before === "," || before === "{") && open.at(-1) === "{") out += `${JSON.stringify(MORE)}:0`; // more members
    else if ((before === "," || before === "[") && open.at(-1) === "[") out += JSON.stringify(MORE); // more items
    else return undefined;
  }
  try {
    return JSON.parse(out);
  } catch {
    return undefined;
  }
}

const globRe = (pattern: string) => new RegExp(`^${pattern.split(ANY).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[\\s\\S]*")}$`);

/** Whether `actual` matches the shown value `shown` (from `shownJson`). */
export function matches(shown: unknown, actual: unknown): boolean {
  if (shown === ANY) return true;
  if (typeof shown === "string") return typeof actual === "string" && (shown.includes(ANY) ? globRe(shown).test(actual) : shown === actual);
  if (Array.isArray(shown)) {
    if (!Array.isArray(actual)) return false;
    const more = shown.includes(MORE);
    const items = shown.filter((item) => item !== MORE);
    if (more ? actual.length < items.length : actual.length !== items.length) return false;
    return items.every((item, i) => matches(item, actual[i]));
  }
  if (shown !== null && typeof shown === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    const more = MORE in shown;
    const keys = Object.keys(shown).filter((k) => k !== MORE);
    if (!more && Object.keys(actual).length !== keys.length) return false;
    return keys.every((k) => k in actual && matches((shown as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]));
  }
  return Object.is(shown, actual);
}

/** Why a command's output does not match what the docs show, or undefined when it does. */
export function mismatch(expected: string[], output: string): string | undefined {
  if (expected.length === 0) return undefined;
  const shown = expected.join("\n").trim();
  const json = shownJson(shown);
  if (json !== undefined) {
    let actual: unknown;
    try {
      actual = JSON.parse(output);
    } catch {
      return `the docs show JSON, the command printed: ${output}`;
    }
    return matches(json, actual) ? undefined : `the docs show ${shown}\nthe command printed ${output}`;
  }
  const want = expected.map((l) => l.trimEnd());
  const got = output.replace(/\s+$/, "").split("\n").map((l) => l.trimEnd());
  while (want.length && want.at(-1) === "") want.pop();
  const ok = want.length === got.length && want.every((w, i) => (w.includes("…") ? globRe(w.replaceAll("…", ANY)).test(got[i]!) : w === got[i]));
  return ok ? undefined : `the docs show:\n${want.join("\n")}\nthe command printed:\n${got.join("\n")}`;
}

// ---- running a block ---------------------------------------------------------------------

/** Runs a block's commands in one bash, each command's output to its own file; background ones stopped at the end. */
async function runBlock(block: Block, relayUrl: string, dir: string): Promise<{ outputs: string[]; code: number | null; stderr: string }> {
  const script = ["set -o pipefail", "BG=()"];
  block.commands.forEach((c, n) => {
    const text = c.text.replaceAll("http://localhost:8787", relayUrl);
    // Its output as a terminal shows it: stdout and stderr together (but for the progress meter
    // `curl -N` writes to stderr only when its stdout is not a terminal).
    if (c.background) script.push(`{\n${text}\n} > ${dir}/out.${n} 2>${dir}/err.${n} &`, "BG+=($!)");
    else script.push(`{\n${text}\n} > ${dir}/out.${n} 2>&1 || { echo "${block.file}:${c.line}: exit $?" >&2; cat ${dir}/out.${n} >&2; exit 1; }`);
  });
  // Background commands get a moment to finish on their own (a stream closes when its run ends), then are stopped.
  script.push('for p in "${BG[@]}"; do for i in $(seq 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done; kill $p 2>/dev/null; done', "wait");
  const child = spawn("bash", ["-c", script.join("\n")], { cwd: ROOT, env: { ...MACHINE, RUNRELAY_URL: relayUrl }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  clearTimeout(timer);
  const outputs = await Promise.all(block.commands.map((_, n) => readFile(join(dir, `out.${n}`), "utf8").catch(() => "")));
  return { outputs, code, stderr };
}

const blocks = (await Promise.all(DOCS.map(async (f) => runnableBlocks(f, await readFile(join(ROOT, f), "utf8"))))).flat();

describe("the documented commands, verbatim, against npm run dev", () => {
  let relay: Relay;
  let dir: string;
  beforeAll(async () => {
    relay = await startRelay({ vars: { RELAY_DEV: "true" } });
    dir = await mkdtemp(join(tmpdir(), "runrelay-docs-"));
  });
  afterAll(async () => {
    await relay?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("finds runnable blocks in README.md and docs/", () => {
    expect(blocks.filter((b) => b.file === "README.md").length).toBeGreaterThanOrEqual(2);
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))("%s", async (_, block) => {
    const blockDir = await mkdtemp(join(dir, "block-"));
    const { outputs, code, stderr } = await runBlock(block, relay.url, blockDir);
    expect(code, stderr).toBe(0);
    const problems = block.commands
      .map((c, n) => [c, mismatch(c.expected, outputs[n]!.replaceAll(relay.url, "http://localhost:8787"))] as const)
      .filter(([, why]) => why !== undefined)
      .map(([c, why]) => `${block.file}:${c.line}: ${c.text.split("\n")[0]}\n${why}`);
    expect(problems).toEqual([]);
  });
});
