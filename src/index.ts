/**
 * runrelay's Worker (the `runrelay` package entry): the run object, the relay
 * app, and `createRelay()` to mount the relay in a Worker of your own.
 */
import { createRelay } from "./worker/app.ts";

export { RunObject, type RunEnv } from "./run/object.ts";
export { RunFanout } from "./run/shard.ts";
export { createRelay, type RelayOptions } from "./worker/app.ts";
export type { Env } from "./worker/config.ts";
export { mintToken, verifyToken } from "./worker/tokens.ts";

/** The relay served at the root: `/api/v1/…`. */
export const app = createRelay();
export default app;
