/** The arguments a `claude` command is started with. */
import { describe, expect, it } from "vitest";
import { claudeArgs } from "./exec.ts";

describe("claudeArgs", () => {
  const base = ["-p", "--output-format", "stream-json", "--input-format", "stream-json", "--verbose"];

  it("adds partial messages and stdio permission prompts, then the session to resume", () => {
    expect(claudeArgs(base, {})).toEqual([...base, "--include-partial-messages", "--permission-prompt-tool", "stdio"]);
    expect(claudeArgs(base, { partial: false, resume: "s-1" })).toEqual([...base, "--permission-prompt-tool", "stdio", "--resume", "s-1"]);
  });

  it("leaves a --permission-prompt-tool (or partial flag) the command already has", () => {
    expect(claudeArgs([...base, "--permission-prompt-tool", "mcp__perm__ask"], {})).toEqual([...base, "--permission-prompt-tool", "mcp__perm__ask", "--include-partial-messages"]);
    expect(claudeArgs(["--permission-prompt-tool=stdio", "--include-partial-messages"], {})).toEqual(["--permission-prompt-tool=stdio", "--include-partial-messages"]);
  });
});
