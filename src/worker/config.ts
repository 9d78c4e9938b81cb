/** The Worker's bindings and vars. Limits are read by `limits(env)`, shared with the run object. */
import type { RunEnv, RunObject } from "../run/object.ts";

export { limits } from "../run/limits.ts";

export interface Env extends RunEnv {
  /** The run objects (the binding's name can be changed with `createRelay({ binding })`). */
  RUNS: DurableObjectNamespace<RunObject>;
  /** The secret tokens are signed with (a wrangler secret). Without it a deployed relay refuses every request. */
  RELAY_SECRET?: string;
  /** "true" under `npm run dev`: a built-in development secret, the dev token route, any CORS origin. */
  RELAY_DEV?: string;
  /** Comma-separated origins allowed to call the API from a browser ("*" only in dev). */
  ALLOWED_ORIGINS?: string;
  /** Which requests write a log line: "all" (the default) or "errors" (status 400 and up). */
  LOG_REQUESTS?: string;
}

export const isDev = (env: Env) => env.RELAY_DEV === "true";

/** Used to sign tokens under `npm run dev` when no RELAY_SECRET is set. Never accepted outside dev. */
export const DEV_SECRET = "runrelay-development-secret";

/** The signing secret, or null when the relay is not configured to serve. */
export function relaySecret(env: Env): string | null {
  return env.RELAY_SECRET || (isDev(env) ? DEV_SECRET : null);
}
