/**
 * The chat view in real headless Chromium (from the @sparticuz/chromium
 * package, driven by playwright-core) against a real `wrangler dev`.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import type { InputsReply } from "../../src/protocol/index.ts";
import { ARTIFACTS, browserPerFile } from "../support/chromium";
import { ndjson, range } from "../support/inbox";
import { startProxy } from "../support/proxy";
import { ADMIN, tokenFor } from "./auth";
import { newRunId, startRunner } from "./runner-support";

const REPLAY = fileURLToPath(new URL("../../scripts/replay.mjs", import.meta.url));
const SESSION = fileURLToPath(new URL("../../demo/session.jsonl", import.meta.url));
const relay = () => inject("relayUrl");
const runUrl = (runId: string, path = "") => `${relay()}/api/v1/workflows/${runId}${path}`;

const browser = browserPerFile();

const assistantLine = (n: number, text: string) =>
  ({ type: "assistant", message: { id: `msg_b_${n}`, type: "message", role: "assistant", content: [{ type: "text", text }] }, session_id: "b" });

async function append(runId: string, lines: unknown[]) {
  const res = await fetch(runUrl(runId, "/events"), { method: "POST", headers: { ...ADMIN, "Content-Type": "application/x-ndjson" }, body: ndjson(lines) });
  expect(res.status).toBe(200);
}

describe("the chat view", () => {
  it("shows a run replayed by the runner: assistant text, a tool call with its result, the turn's result, the final status", async () => {
    const runId = newRunId("browser-replay");
    const runner = startRunner(["exec", "--url", relay(), "--run", runId, "--token", await tokenFor(runId, "runner"), "--no-spool", "--", process.execPath, REPLAY, SESSION, "--fast"]);
    expect(await runner.exit, runner.stderr()).toBe(0);

    const page = await browser().newPage({ viewport: { width: 900, height: 1000 } });
    await page.goto(`${relay()}/?run=${runId}&token=${await tokenFor(runId, "read")}`);
    await page.locator("#run-status[data-status=completed]").waitFor();
    await expect(page.getByText("The month is off by one").count()).resolves.toBe(1);
    const tool = page.locator(".tool", { hasText: "Fix the month offset" });
    await expect(tool.count()).resolves.toBe(1);
    await tool.locator("summary").first().click();
    await expect(tool.locator(".result pre").textContent()).resolves.toContain("# pass 4");
    await expect(page.locator(".result-line").textContent()).resolves.toMatch(/^Turn complete · [\d.]+ s · 3 turns · \$0\.0\d+$/);
    await expect(page.locator("#composer-note").textContent()).resolves.toBe("The run has ended.");
    await expect(page.locator("#send").isDisabled()).resolves.toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}chat-replayed.png`, fullPage: true });
    await page.close();
  });

  it("sends messages and stop from the page, and shows every event exactly once across going offline and back", async () => {
    const runId = newRunId("browser-live");
    const runnerToken = await tokenFor(runId, "runner");
    const inputs = async (): Promise<InputsReply> =>
      (await (await fetch(runUrl(runId, "/inputs?after=0&wait=0"), { headers: { Authorization: `Bearer ${runnerToken}` } })).json()) as InputsReply;
    await append(runId, [assistantLine(0, "Working on it.")]);

    // The page talks to the relay through a proxy that can drop its connections, as a lost network does.
    const proxy = await startProxy(relay());
    const context = await browser().newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(`${proxy.url}/?run=${runId}&token=${await tokenFor(runId, "write")}`);
    await page.getByText("Working on it.").waitFor();

    await page.fill("#message", "Please also update the changelog");
    await page.click("#send");
    await page.locator(".user-message", { hasText: "Please also update the changelog" }).waitFor();
    expect((await inputs()).inputs.map((i) => [i.kind, i.message?.content])).toEqual([["message", "Please also update the changelog"]]);

    await page.click("#stop");
    await page.getByText("Stop requested").waitFor();
    expect((await inputs()).inputs.map((i) => i.kind)).toEqual(["message", "interrupt"]);

    // Offline: the open stream drops and new connections fail; meanwhile the agent goes on.
    await page.locator("#connection[data-state=live]").waitFor();
    await context.setOffline(true);
    proxy.cut();
    await page.locator("#connection[data-state=reconnecting]").waitFor();
    for (const n of range(1, 20)) await append(runId, [assistantLine(n, `offline line ${n}`)]);
    await expect(page.getByText("offline line 1", { exact: true }).count()).resolves.toBe(0);
    await context.setOffline(false);
    await page.getByText("offline line 20", { exact: true }).waitFor();
    await page.locator("#connection[data-state=live]").waitFor();
    for (const n of range(1, 20)) {
      await expect(page.getByText(`offline line ${n}`, { exact: true }).count(), `line ${n}`).resolves.toBe(1);
    }
    const ids = await page.locator("[data-entry]").evaluateAll((nodes) => nodes.map((n) => Number((n as HTMLElement).dataset.entry)));
    expect(ids).toEqual([...new Set(ids)]);

    await fetch(runUrl(runId, "/complete"), { method: "POST", headers: { ...ADMIN, "Content-Type": "application/json" }, body: '{"status":"completed"}' });
    await page.locator("#run-status[data-status=completed]").waitFor();
    await page.screenshot({ path: `${ARTIFACTS}chat-live.png`, fullPage: true });
    await context.close();
    await proxy.stop();
  });

  it("shows assistant text growing as it is typed, from live deltas, then exactly the final message", async () => {
    const runId = newRunId("browser-typing");
    const delta = (event: object) => ({ type: "stream_event", event, session_id: "t", parent_tool_use_id: null, uuid: crypto.randomUUID() });
    const text = (t: string) => delta({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } });
    await append(runId, [{ type: "system", subtype: "init", session_id: "t", model: "claude-test", cwd: "/work" }]);

    const page = await browser().newPage({ viewport: { width: 900, height: 700 } });
    await page.goto(`${relay()}/?run=${runId}&token=${await tokenFor(runId, "read")}`);
    await page.getByText("Session started").waitFor();
    const partial = page.locator(".assistant p.partial");

    await append(runId, [delta({ type: "message_start", message: { id: "msg_typing" } }), delta({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }), text("The answer "), text("is growing")]);
    await expect.poll(() => partial.textContent()).toBe("The answer is growing");
    await page.screenshot({ path: `${ARTIFACTS}chat-typing-1.png` });
    await append(runId, [text(" word "), text("by word")]);
    await expect.poll(() => partial.textContent()).toBe("The answer is growing word by word");
    await page.screenshot({ path: `${ARTIFACTS}chat-typing-2.png` });

    // The final message lands: it replaces what was typed, once.
    const final = "The answer is growing word by word, and now it is done.";
    await append(runId, [{ type: "assistant", message: { id: "msg_typing", type: "message", role: "assistant", content: [{ type: "text", text: final }] }, session_id: "t" }]);
    await page.getByText(final, { exact: true }).waitFor();
    await expect(partial.count()).resolves.toBe(0);
    await expect(page.locator(".assistant").allTextContents()).resolves.toEqual([final]);
    await page.screenshot({ path: `${ARTIFACTS}chat-typing-final.png` });
    await page.close();
  });
});
