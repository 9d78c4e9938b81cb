/** The CLI's token sources and help. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main, tokenSource } from "./cli.ts";

describe("tokenSource", () => {
  it("--token-file is read again at every call; --token-command runs through the shell each time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runrelay-cli-"));
    const file = join(dir, "token");
    writeFileSync(file, "first\n");
    const fromFile = tokenSource(undefined, file, undefined) as () => Promise<string>;
    expect((await fromFile()).trim()).toBe("first");
    writeFileSync(file, "second\n");
    expect((await fromFile()).trim()).toBe("second");

    const counter = join(dir, "n");
    const fromCommand = tokenSource(undefined, undefined, `echo x >> ${counter}; echo "t-$(wc -l < ${counter})"`) as () => Promise<string>;
    expect((await fromCommand()).trim()).toBe("t-1");
    expect((await fromCommand()).trim()).toBe("t-2");
  });

  it("a failing command says how; a plain token stays a string; two sources are a usage error", async () => {
    const failing = tokenSource(undefined, undefined, "echo nope >&2; exit 3") as () => Promise<string>;
    await expect(failing()).rejects.toThrow("--token-command failed (exit 3): nope");
    expect(tokenSource("abc", undefined, undefined)).toBe("abc");
    expect(tokenSource(undefined, undefined, undefined)).toBeUndefined();
    expect(() => tokenSource("abc", "/f", undefined)).toThrow(/one of --token, --token-file and --token-command/);
  });
});

describe("help", () => {
  it("lists the token, spool and interrupt options, one a line", async () => {
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (out.push(String(chunk)), true));
    try {
      expect(await main(["exec", "--help"], {})).toBe(0);
    } finally {
      write.mockRestore();
    }
    const lines = out.join("").split("\n");
    for (const flag of ["--token TOKEN", "--token-file PATH", "--token-command CMD", "--spool-dir DIR", "--interrupt signal|control", "--exit-grace S", "--permission-timeout S"]) {
      expect(lines.filter((l) => l.trimStart().startsWith(flag)), flag).toHaveLength(1);
    }
  });
});

describe("--permission-timeout", () => {
  it("takes a number of seconds > 0, on exec and sdk; anything else is a usage error (exit 2)", async () => {
    const errors: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (errors.push(String(chunk)), true));
    const env = { RUNRELAY_URL: "http://127.0.0.1:1", RUNRELAY_RUN_ID: "r1" };
    try {
      expect(await main(["exec", "--permission-timeout", "0", "--no-spool", "--", "claude"], env)).toBe(2);
      expect(await main(["sdk", "--permission-timeout", "soon", "--no-spool", "--prompt", "hi"], env)).toBe(2);
      expect(await main(["tail", "--permission-timeout", "5", "--file", "/f"], env)).toBe(2);
    } finally {
      write.mockRestore();
    }
    expect(errors).toEqual([
      "runrelay: error: --permission-timeout takes a number of seconds > 0\n",
      "runrelay: error: --permission-timeout takes a number of seconds > 0\n",
      expect.stringMatching(/^runrelay: error: Unknown option '--permission-timeout'.*\(try runrelay tail --help\)\n$/),
    ]);
  });
});
