/**
 * A permission prompt from the real Claude Code binary (run by `runrelay exec`, against the fake
 * Messages API) answered in the chat view in headless Chromium: Allow lets the turn finish; a
 * viewer with a read token sees the same card without buttons.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { launchChromium } from "../support/chromium";
import { claudeExecutable, startFakeAnthropic, WRITTEN, type FakeAnthropic } from "../support/fake-anthropic";
import { tokenFor } from "./auth";
import { newRunId, runnerEnv, startRunner, tempDir } from "./runner-support";

let browser: Browser;
let fake: FakeAnthropic;
beforeAll(async () => {
  [browser, fake] = await Promise.all([launchChromium(), startFakeAnthropic()]);
});
afterAll(async () => {
  await browser?.close();
  await fake?.stop();
});

it("Claude Code asks to write outside its folder: the card shows it, Allow lets the turn finish; a read-only viewer gets no buttons", async () => {
  const runId = newRunId("chat-perm-real");
  const cwd = await tempDir("chat-perm-real");
  const target = join(await tempDir("chat-perm-real-out"), "notes.txt");
  // Claude Code's own config dir (and not --bare, which has no Write tool): nothing of the machine's settings allows or denies it.
  const env = await runnerEnv(runId, { ...fake.env, CLAUDE_CONFIG_DIR: await tempDir("claude-config") });
  const claude = [await claudeExecutable(), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"];
  const runner = startRunner(["exec", "--prompt", `please [write ${target}]`, "--spool-dir", cwd, "--", ...claude], env, cwd);

  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  const watcher = await browser.newPage({ viewport: { width: 900, height: 900 } });
  await page.goto(`${inject("relayUrl")}/?run=${runId}&token=${await tokenFor(runId, "write")}`);
  await watcher.goto(`${inject("relayUrl")}/?run=${runId}&token=${await tokenFor(runId, "read")}`);

  const region = page.getByRole("region", { name: "Allow Claude to use Write?" });
  await region.waitFor();
  await expect(region.locator(".prompt-what").textContent()).resolves.toBe(target);
  await expect(region.locator(".prompt-reason").textContent()).resolves.toContain("Why it asks:");
  const watched = watcher.getByRole("region", { name: "Allow Claude to use Write?" });
  await watched.waitFor();
  await expect(watched.locator("button, input").count()).resolves.toBe(0);

  await region.getByRole("button", { name: "Allow", exact: true }).click();
  await expect.poll(() => region.locator(".prompt-outcome:not([hidden])").textContent()).toBe("Allowed");
  await expect.poll(() => watched.locator(".prompt-outcome:not([hidden])").textContent()).toBe("Allowed");
  // The turn finishes: the tool ran, the model answered, the run completed.
  await expect.poll(() => page.locator("#activity").textContent(), { timeout: 30_000 }).toBe("ended: completed");
  await expect(page.getByText(`done: File created successfully at: ${target}`, { exact: false }).count()).resolves.toBeGreaterThan(0);
  expect(readFileSync(target, "utf8")).toBe(WRITTEN);
  expect(await runner.exit, runner.stderr()).toBe(0);
  await page.close();
  await watcher.close();
});
