/** The page around a run: the bare page's form, the token's scope, a run that does not exist yet. */
import { $ } from "./dom.ts";
import { activity, setActivity, WORDS } from "./state.ts";

/** The token's scope, read from its payload (the relay checks it; this only shapes the page). */
export function scopeOf(token: string): string | undefined {
  try {
    return JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).scope;
  } catch {
    return undefined;
  }
}

/** The bare page: a small form to open a run by its id (and a token, unless under `npm run dev`). */
export function openForm(): void {
  setActivity("idle", "no run open");
  $("run-status").hidden = true;
  $("connection").hidden = true;
  $("composer").hidden = true;
  const open = $<HTMLFormElement>("open-run");
  open.hidden = false;
  open.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(open);
    const query = new URLSearchParams({ run: String(data.get("run") ?? "").trim() });
    const token = String(data.get("token") ?? "").trim();
    if (token) query.set("token", token);
    location.search = query.toString();
  });
  $<HTMLInputElement>("open-run-id").focus();
}

/**
 * The relay answers 404 for a run nothing was written to yet (the page may be
 * opened before the runner starts): say so, keep the stream listening, and
 * ask again until it exists.
 */
export async function watchForRun(runId: string, token: string, missing: (yes: boolean) => void): Promise<void> {
  let absent = false;
  for (;;) {
    const res = await fetch(`/api/v1/workflows/${encodeURIComponent(runId)}`, { headers: { Authorization: `Bearer ${token}` } }).catch(() => undefined);
    if (res && res.status !== 404) break;
    if (res && !absent && activity() === "connecting") {
      absent = true;
      setActivity("missing", WORDS.missing);
      missing(true);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (absent) {
    if (activity() === "missing") setActivity("waiting", WORDS.waiting);
    missing(false);
  }
}

