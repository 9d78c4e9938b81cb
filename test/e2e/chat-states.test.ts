/**
 * The chat view's states, in words a person understands, driven one by one
 * against a real `wrangler dev` in headless Chromium.
 */
import type { Page } from "playwright-core";
import { describe, expect, inject, it } from "vitest";
import { browserPerFile } from "../support/chromium";
import { ndjson } from "../support/inbox";
import { ADMIN, tokenFor } from "./auth";
import { newRunId } from "./runner-support";

const relay = () => inject("relayUrl");
const runUrl = (runId: string, path = "") => `${relay()}/api/v1/workflows/${runId}${path}`;

const browser = browserPerFile();

async function append(runId: string, lines: unknown[]) {
  const res = await fetch(runUrl(runId, "/events"), { method: "POST", headers: { ...ADMIN, "Content-Type": "application/x-ndjson" }, body: ndjson(lines) });
  expect(res.status).toBe(200);
}
async function complete(runId: string, status: string, reason?: string) {
  const res = await fetch(runUrl(runId, "/complete"), { method: "POST", headers: { ...ADMIN, "Content-Type": "application/json" }, body: JSON.stringify({ status, reason }) });
  expect(res.status).toBeLessThan(300);
}
const said = (n: number, text: string) => ({ type: "assistant", message: { id: `msg_s_${n}`, type: "message", role: "assistant", content: [{ type: "text", text }] }, session_id: "s" });
const result = (extra: object = {}) => ({ type: "result", subtype: "success", is_error: false, duration_ms: 1200, num_turns: 1, total_cost_usd: 0.001, session_id: "s", ...extra });
const activity = (page: Page) => page.locator("#activity");
const shows = (page: Page, words: string) => expect.poll(() => activity(page).textContent()).toBe(words);

describe("the chat view's states", () => {
  it("no such run yet, working…, waiting for you, stopping…, stopped, nothing to stop, a failed turn in words, ended: failed with its reason", async () => {
    const runId = newRunId("chat-states");
    const page = await browser().newPage({ viewport: { width: 900, height: 800 } });
    await page.goto(`${relay()}/?run=${runId}&token=${await tokenFor(runId, "write")}`);
    await shows(page, "no such run yet — waiting for it to start");
    await expect(page.locator("#send").isDisabled()).resolves.toBe(true);
    await expect(page.locator("#activity").getAttribute("role")).resolves.toBe("status");

    await append(runId, [said(1, "Looking at it.")]); // the runner starts: the page was listening all along
    await page.getByText("Looking at it.").waitFor();
    await shows(page, "working…");
    await expect.poll(() => page.locator("#send").isDisabled()).toBe(false);

    await append(runId, [result()]);
    await shows(page, "waiting for you");

    await append(runId, [said(2, "Another turn.")]);
    await shows(page, "working…");
    await page.click("#stop");
    await shows(page, "stopping…");
    await page.getByText("Stop requested").waitFor();
    await append(runId, [{ type: "user", message: { role: "user", content: [{ type: "text", text: "[Request interrupted by user]" }] }, session_id: "s" }, result({ subtype: "error_during_execution", is_error: true })]);
    await shows(page, "stopped — waiting for you");
    await page.click("#stop");
    await shows(page, "nothing to stop");

    await append(runId, [said(3, "Trying once more."), result({ subtype: "error_max_turns", is_error: true, errors: ["Reached maximum number of turns (3)"] })]);
    await shows(page, "waiting for you");
    await append(runId, [said(4, "And again."), result({ subtype: "success", is_error: true, result: "API Error: 529 overloaded\nretry later" })]);
    const lines = page.locator(".result-line");
    await expect.poll(() => lines.count()).toBe(4);
    const texts = await lines.allTextContents();
    expect(texts[0]).toMatch(/^Turn complete · 1\.2 s/);
    expect(texts[1]).toMatch(/^Turn stopped · /);
    expect(texts[2]).toMatch(/^Turn failed: it reached the turn limit — Reached maximum number of turns \(3\) · /);
    expect(texts[3]).toMatch(/^Turn failed: an error — API Error: 529 overloaded · /);
    expect(texts.join()).not.toContain("(success)");

    await complete(runId, "failed", "the agent crashed");
    await shows(page, "ended: failed — the agent crashed");
    await expect(page.locator("#run-status").getAttribute("data-status")).resolves.toBe("failed");
    await expect(page.locator("#send").isDisabled()).resolves.toBe(true);
    await expect(page.locator("#stop").isDisabled()).resolves.toBe(true);
    await page.close();
  });

  it("ended: completed and ended: cancelled with the reason", async () => {
    const page = await browser().newPage({ viewport: { width: 360, height: 700 } });
    for (const [status, reason, words] of [["completed", undefined, "ended: completed"], ["cancelled", "stopped by its owner", "ended: cancelled — stopped by its owner"]] as const) {
      const runId = newRunId(`chat-${status}`);
      await append(runId, [said(1, "Hello."), result()]);
      await page.goto(`${relay()}/?run=${runId}&token=${await tokenFor(runId, "read")}`);
      await shows(page, "waiting for you");
      await complete(runId, status, reason);
      await shows(page, words);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    }
    await page.close();
  });

  it("the bare page offers a form to open a run, not 'pending · connecting…'", async () => {
    const page = await browser().newPage({ viewport: { width: 360, height: 700 } });
    await page.goto(`${relay()}/`);
    const form = page.getByRole("form", { name: "Open a run" });
    await form.waitFor();
    await expect(page.locator("#composer").isVisible()).resolves.toBe(false);
    await expect(page.getByText("connecting…").isVisible()).resolves.toBe(false);
    await page.getByLabel("Run id").fill("some-run");
    await page.getByRole("button", { name: "Open run" }).click();
    await page.waitForURL(/\?run=some-run$/);
    await page.close();
  });
});
