/**
 * A recorded session (demo/chat-features.jsonl: Markdown, a thinking block, a
 * TodoWrite, a failing tool, an Edit, a Read) replayed through the runner:
 * each renders as the chat view describes it; screenshots at 1280 and 390 px;
 * axe-core finds no serious or critical violations.
 */
import { fileURLToPath } from "node:url";
import axe from "axe-core";
import type { Page } from "playwright-core";
import { describe, expect, inject, it } from "vitest";
import { ARTIFACTS, browserPerFile } from "../support/chromium";
import { tokenFor } from "./auth";
import { newRunId, startRunner } from "./runner-support";

const REPLAY = fileURLToPath(new URL("../../scripts/replay.mjs", import.meta.url));
const SESSION = fileURLToPath(new URL("../../demo/chat-features.jsonl", import.meta.url));
const relay = () => inject("relayUrl");

const browser = browserPerFile();

async function seriousViolations(page: Page) {
  await page.addScriptTag({ content: axe.source });
  const found = await page.evaluate(async () => (await (window as any).axe.run(document)).violations as { id: string; impact: string; nodes: { target: string[] }[] }[]);
  return found.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("the chat view renders a recorded session", () => {
  it("markdown, thinking, a checklist, a failing tool, a diff, a collapsed read; at 1280 and 390 px; no serious axe violations", async () => {
    const runId = newRunId("chat-render");
    const runner = startRunner(["exec", "--url", relay(), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool", "--", process.execPath, REPLAY, SESSION, "--fast"]);
    expect(await runner.exit, runner.stderr()).toBe(0);
    const token = await tokenFor(runId, "write");

    for (const width of [1280, 390]) {
      const page = await browser().newPage({ viewport: { width, height: 900 } });
      await page.goto(`${relay()}/?run=${runId}&token=${token}`);
      await page.locator("#run-status[data-status=completed]").waitFor();

      // Markdown, sanitised, no raw backticks; a code block with a copy button.
      await expect(page.locator(".assistant strong").first().textContent()).resolves.toBe("the month");
      await expect(page.locator(".assistant code", { hasText: "formatDate" }).count()).resolves.toBe(1);
      await expect(page.locator(".assistant .md li").allTextContents()).resolves.toEqual(["read the helper", "fix the offset"]);
      await expect(page.locator(".assistant .code pre").textContent()).resolves.toContain("const m = d.getMonth() + 1;");
      await expect(page.getByRole("button", { name: "Copy code" }).count()).resolves.toBe(1);
      for (const text of await page.locator(".assistant .md").allTextContents()) expect(text).not.toContain("`");
      await expect(page.getByRole("link", { name: "the helper" }).getAttribute("href")).resolves.toBe("https://example.com/date");

      // Thinking: collapsed.
      const thinking = page.locator("details.thinking");
      await expect(thinking.locator("summary").textContent()).resolves.toBe("Thinking");
      await expect(thinking.evaluate((d) => (d as HTMLDetailsElement).open)).resolves.toBe(false);

      // TodoWrite: a checklist.
      const todos = page.getByRole("list", { name: "To-do list" });
      await expect(todos.getByRole("listitem").allTextContents()).resolves.toEqual(["Read the date helper", "Fix the month offset (in progress)", "Run the tests"]);
      await expect(todos.getByRole("checkbox", { checked: true }).count()).resolves.toBe(1);

      // A failing tool: its summary says error, with the error's first line.
      const bash = page.locator(".tool[data-name=Bash]");
      await expect(bash.locator("summary .outcome").first().textContent()).resolves.toBe("error: Error: 1 test failed");
      await expect(page.locator(".tool[data-name=Edit] summary .outcome").textContent()).resolves.toBe("ok");

      // Edit: a line diff.
      const diff = page.locator(".tool[data-name=Edit] .diff");
      await expect(diff.locator(".del").allTextContents()).resolves.toEqual(["- const m = d.getMonth();\n"]);
      await expect(diff.locator(".add").allTextContents()).resolves.toEqual(["+ const m = d.getMonth() + 1;\n"]);
      await expect(diff.locator("span").allTextContents()).resolves.toEqual(["  const y = d.getFullYear();\n", "- const m = d.getMonth();\n", "+ const m = d.getMonth() + 1;\n", "  return `${y}-${m}`;\n"]);
      // Usable at narrow widths: nothing wider than the window.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);

      // Read: the result collapsed, with its line count.
      const read = page.locator(".tool[data-name=Read] details.result");
      await expect(read.locator("summary").textContent()).resolves.toBe("Result · 3 lines");
      await expect(read.evaluate((d) => (d as HTMLDetailsElement).open)).resolves.toBe(false);

      // Icons are inline SVG, hidden from screen readers; no emoji glyphs anywhere.
      await expect(page.locator("#stop svg[aria-hidden=true]").count()).resolves.toBe(1);
      expect(await page.locator("body").textContent()).not.toMatch(/[\u23F9\u2713\u2714]/);

      await page.screenshot({ path: `${ARTIFACTS}chat-render-${width}.png`, fullPage: true });
      expect(await seriousViolations(page)).toEqual([]);
      await page.close();
    }
  });
});
