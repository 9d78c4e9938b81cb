/** The variables the relay's middlewares set for its routes. */
import type { RunObject } from "../run/object.ts";
import type { AuthVars } from "./auth.ts";
import type { Env } from "./config.ts";

/** Set by the relay's app before any route runs: the namespace of run objects. */
export type RelayVars = { runs: DurableObjectNamespace<RunObject> };

/** A run's routes: the run id (checked) and its object's stub, besides the token and the namespace. */
export type RunApp = { Bindings: Env; Variables: RelayVars & AuthVars & { runId: string; run: DurableObjectStub<RunObject> } };
