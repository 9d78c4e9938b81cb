/**
 * Permission prompts in the chat view, in headless Chromium against a real
 * `wrangler dev`. The test plays the runner: it POSTs Claude Code's
 * `control_request` lines (`can_use_tool`) and reads what reaches it with
 * `GET /inputs`. Each prompt is a card with the tool, what it would touch and
 * why it asks; its buttons answer it; a settled card shows its outcome.
 */
import axe from "axe-core";
import type { Page } from "playwright-core";
import { describe, expect, inject, it } from "vitest";
import type { Input, InputsReply } from "../../src/protocol/index.ts";
import { ARTIFACTS, browserPerFile } from "../support/chromium";
import { ndjson } from "../support/inbox";
import { tokenFor } from "./auth";
import { newRunId } from "./runner-support";

const relay = () => inject("relayUrl");
const runUrl = (runId: string, path = "") => `${relay()}/api/v1/workflows/${runId}${path}`;

const browser = browserPerFile();

const INPUT = { file_path: "/x/notes.md", content: "# Notes\n" };
const SESSION_EDITS = { type: "setMode", mode: "acceptEdits", destination: "session" };
const canUseTool = (requestId: string, request: object = {}) => ({
  type: "control_request",
  request_id: requestId,
  request: {
    subtype: "can_use_tool", tool_name: "Write", display_name: "Write", input: INPUT, tool_use_id: `toolu_${requestId}`,
    permission_suggestions: [SESSION_EDITS, { type: "addDirectories", directories: ["/x"], destination: "session" }],
    decision_reason: "Path is outside allowed working directories", ...request,
  },
});
const QUESTION = { question: "Which library should we use for dates?", header: "Library", multiSelect: false, options: [{ label: "date-fns", description: "Small and modular" }, { label: "Luxon", description: "Time zones built in" }] };
const FEATURES = { question: "Which features do you want?", header: "Features", multiSelect: true, options: [{ label: "Parsing", description: "" }, { label: "Formatting", description: "" }, { label: "Time zones", description: "" }] };
const ask = (requestId: string, questions: object[]) => canUseTool(requestId, { tool_name: "AskUserQuestion", display_name: "AskUserQuestion", input: { questions }, permission_suggestions: undefined, decision_reason: undefined });
const said = (text: string) => ({ type: "assistant", message: { id: `msg_${crypto.randomUUID()}`, role: "assistant", content: [{ type: "text", text }] }, session_id: "p" });

/** The test as the runner: prints Claude Code's lines, and reads the answers queued for it. */
async function fakeRunner(name: string) {
  const runId = newRunId(name);
  const auth = { Authorization: `Bearer ${await tokenFor(runId, "runner")}` };
  return {
    runId,
    async print(lines: unknown[]) {
      const res = await fetch(runUrl(runId, "/events"), { method: "POST", headers: { ...auth, "Content-Type": "application/x-ndjson" }, body: ndjson(lines) });
      expect(res.status).toBe(200);
    },
    /** The participants' answers queued for the runner, by request id. */
    async answers(): Promise<Record<string, unknown>> {
      const reply = (await (await fetch(runUrl(runId, "/inputs?after=0&wait=0"), { headers: auth })).json()) as InputsReply;
      const responses = reply.inputs.filter((i: Input) => i.kind === "control").map((i) => (i.payload as { response: { request_id: string; subtype: string; response: unknown } }).response);
      expect(responses.every((r) => r.subtype === "success")).toBe(true);
      return Object.fromEntries(responses.map((r) => [r.request_id, r.response]));
    },
    async complete() {
      const res = await fetch(runUrl(runId, "/complete"), { method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: '{"status":"completed"}' });
      expect(res.status).toBe(200);
    },
  };
}

async function open(runId: string, scope: "write" | "read", width = 900): Promise<Page> {
  const page = await browser().newPage({ viewport: { width, height: 900 } });
  await page.goto(`${relay()}/?run=${runId}&token=${await tokenFor(runId, scope)}`);
  return page;
}
const card = (page: Page, requestId: string) => page.locator(`section.prompt[data-request="${requestId}"]`);
const outcome = (page: Page, requestId: string) => expect.poll(() => card(page, requestId).locator(".prompt-outcome:not([hidden])").textContent());
const activity = (page: Page) => expect.poll(() => page.locator("#activity").textContent());

async function seriousViolations(page: Page) {
  await page.addScriptTag({ content: axe.source });
  const found = await page.evaluate(async () => (await (window as any).axe.run(document)).violations as { id: string; impact: string; nodes: { target: string[] }[] }[]);
  return found.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("permission prompts in the chat view", () => {
  it("a Write prompt: a card with the tool, the path, the reason and the buttons; Allow reaches the runner, then the card says Allowed", async () => {
    const runner = await fakeRunner("chat-perm-allow");
    await runner.print([said("I will write the notes."), canUseTool("req-allow")]);
    const page = await open(runner.runId, "write");
    const region = page.getByRole("region", { name: "Allow Claude to use Write?" });
    await region.waitFor();
    await expect(region.locator(".prompt-what").textContent()).resolves.toBe("/x/notes.md");
    await expect(region.locator(".prompt-reason").textContent()).resolves.toBe("Why it asks: Path is outside allowed working directories");
    await expect(region.locator("details.prompt-input pre").textContent()).resolves.toBe(JSON.stringify(INPUT, null, 2));
    await expect(region.locator("details.prompt-input").evaluate((d) => (d as HTMLDetailsElement).open)).resolves.toBe(false);
    await expect(region.getByRole("button").allTextContents()).resolves.toEqual(["Allow", "Allow edits for this session", "Allow /x for this session", "Deny"]);
    await activity(page).toBe("waiting for you — permission needed");
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}chat-permission-pending.png`, fullPage: true });

    await region.getByRole("button", { name: "Allow", exact: true }).click();
    await outcome(page, "req-allow").toBe("Allowed");
    expect(await runner.answers()).toEqual({ "req-allow": { behavior: "allow", updatedInput: INPUT } });
    await expect(region.locator("button").count()).resolves.toBe(0);
    await expect(region.getAttribute("data-state")).resolves.toBe("allowed");
    await activity(page).toBe("working…");
    await page.screenshot({ path: `${ARTIFACTS}chat-permission-allowed.png`, fullPage: true });
    await page.close();
  });

  it("Deny sends a deny; a suggestion sends it as updatedPermissions; at phone width", async () => {
    const runner = await fakeRunner("chat-perm-deny");
    await runner.print([canUseTool("req-deny"), canUseTool("req-session")]);
    const page = await open(runner.runId, "write", 390);
    await card(page, "req-session").waitFor();

    await card(page, "req-deny").getByRole("button", { name: "Deny" }).click();
    await outcome(page, "req-deny").toBe("Denied");
    await activity(page).toBe("waiting for you — permission needed"); // the other prompt is still open
    await card(page, "req-session").getByRole("button", { name: "Allow edits for this session" }).click();
    await outcome(page, "req-session").toBe("Allowed for this session");
    expect(await runner.answers()).toEqual({
      "req-deny": { behavior: "deny", message: "The user denied permission to use Write." },
      "req-session": { behavior: "allow", updatedInput: INPUT, updatedPermissions: [SESSION_EDITS] },
    });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${ARTIFACTS}chat-permission-390.png`, fullPage: true });
    await page.close();
  });

  it("with a read token: the card without buttons, and a note that answering needs write access", async () => {
    const runner = await fakeRunner("chat-perm-read");
    await runner.print([canUseTool("req-read"), ask("req-read-q", [QUESTION])]);
    const page = await open(runner.runId, "read");
    await card(page, "req-read-q").waitFor();
    for (const id of ["req-read", "req-read-q"]) {
      await expect(card(page, id).locator("button, input").count()).resolves.toBe(0);
      await expect(card(page, id).locator(".prompt-note").textContent()).resolves.toBe("Answering needs write access: this link can only watch.");
    }
    await expect(card(page, "req-read-q").locator(".options li").allTextContents()).resolves.toEqual(["date-fns — Small and modular", "Luxon — Time zones built in"]);
    await page.close();
  });

  it("the runner's own answer, the agent withdrawing, the run ending; other control messages are not shown", async () => {
    const runner = await fakeRunner("chat-perm-settled");
    await runner.print([canUseTool("req-timeout"), canUseTool("req-cancel"), canUseTool("req-open")]);
    const page = await open(runner.runId, "write");
    await card(page, "req-open").waitFor();
    const shown = await page.locator("#log > *").count();

    // Anthropic's browser SDK opens with an `initialize` control request, and the agent answers it.
    const write = await tokenFor(runner.runId, "write");
    const init = await fetch(runUrl(runner.runId, "/session/events"), {
      method: "POST",
      headers: { Authorization: `Bearer ${write}`, "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: runner.runId, events: [{ payload: { type: "control_request", request_id: "init-1", request: { subtype: "initialize" }, uuid: crypto.randomUUID() } }] }),
    });
    expect(init.status).toBe(200);
    await runner.print([
      { type: "control_response", response: { subtype: "success", request_id: "init-1", response: { commands: [] } } },
      { type: "control_response", response: { subtype: "success", request_id: "req-timeout", response: { behavior: "deny", message: "No one answered within 300 s" } } },
      { type: "control_cancel_request", request_id: "req-cancel" },
      said("Carrying on."),
    ]);
    await page.getByText("Carrying on.").waitFor();
    await expect(page.locator("#log > *").count()).resolves.toBe(shown + 1); // only the assistant's line
    await outcome(page, "req-timeout").toBe("Denied: no one answered in time");
    await outcome(page, "req-cancel").toBe("Cancelled by the agent");
    await expect(card(page, "req-open").locator("button").count()).resolves.toBe(4); // Allow, two suggestions, Deny
    await activity(page).toBe("waiting for you — permission needed");

    await runner.complete();
    await outcome(page, "req-open").toBe("Not answered: the run ended");
    await expect(page.locator("section.prompt button").count()).resolves.toBe(0);
    await activity(page).toBe("ended: completed");
    await page.close();
  });

  it("when another participant answers first, the card says so, then shows their answer", async () => {
    const runner = await fakeRunner("chat-perm-race");
    await runner.print([canUseTool("req-race")]);
    const page = await open(runner.runId, "write");
    await card(page, "req-race").waitFor();
    // The other participant's answer lands just before this page's reaches the relay.
    const write = await tokenFor(runner.runId, "write");
    await page.route("**/session/events", async (route) => {
      const payload = { type: "control_response", response: { subtype: "success", request_id: "req-race", response: { behavior: "deny", message: "Not now" } }, uuid: crypto.randomUUID() };
      const first = await fetch(runUrl(runner.runId, "/session/events"), { method: "POST", headers: { Authorization: `Bearer ${write}`, "Content-Type": "application/json" }, body: JSON.stringify({ session_id: runner.runId, events: [{ payload }] }) });
      expect(first.status).toBe(200);
      await route.continue();
    });
    await card(page, "req-race").getByRole("button", { name: "Allow", exact: true }).click();
    await expect.poll(() => card(page, "req-race").locator(".prompt-note").textContent()).toBe("Someone else answered first.");
    await outcome(page, "req-race").toBe("Denied");
    await expect(card(page, "req-race").locator("button").count()).resolves.toBe(0);
    expect(await runner.answers()).toEqual({ "req-race": { behavior: "deny", message: "Not now" } });
    await page.close();
  });

  it("AskUserQuestion: one question's options are buttons; several questions and a multiSelect take checkboxes and Submit", async () => {
    const runner = await fakeRunner("chat-perm-ask");
    await runner.print([ask("req-q1", [QUESTION])]);
    const page = await open(runner.runId, "write");
    const one = page.getByRole("region", { name: "Claude has a question" });
    await one.waitFor();
    await activity(page).toBe("waiting for you — Claude has a question");
    await expect(one.locator("legend").textContent()).resolves.toBe("Library Which library should we use for dates?");
    await expect(one.getByRole("button").allTextContents()).resolves.toEqual(["date-fns", "Luxon", "Decline to answer"]);
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}chat-permission-question.png`, fullPage: true });
    await one.getByRole("button", { name: "Luxon" }).click();
    await outcome(page, "req-q1").toBe("Answered: Luxon");
    await expect(one.locator(".options li.chosen").allTextContents()).resolves.toEqual(["Luxon (chosen) — Time zones built in"]);

    await runner.print([ask("req-q2", [FEATURES, QUESTION])]);
    const two = page.getByRole("region", { name: "Claude has 2 questions" });
    await two.waitFor();
    const submit = two.getByRole("button", { name: "Submit answers" });
    await expect(submit.isDisabled()).resolves.toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
    await two.getByRole("checkbox", { name: "Parsing" }).check();
    await two.getByRole("checkbox", { name: "Time zones" }).check();
    await expect(submit.isDisabled()).resolves.toBe(true); // the second question has no answer yet
    await two.getByRole("radio", { name: "date-fns" }).check();
    await submit.click();
    await outcome(page, "req-q2").toBe("Answered: Parsing, Time zones; date-fns");
    expect(await runner.answers()).toEqual({
      "req-q1": { behavior: "allow", updatedInput: { questions: [QUESTION], answers: { [QUESTION.question]: "Luxon" } } },
      "req-q2": { behavior: "allow", updatedInput: { questions: [FEATURES, QUESTION], answers: { [FEATURES.question]: "Parsing, Time zones", [QUESTION.question]: "date-fns" } } },
    });
    await page.screenshot({ path: `${ARTIFACTS}chat-permission-answered.png`, fullPage: true });
    await page.close();
  });
});
