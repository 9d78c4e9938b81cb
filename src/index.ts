/** runrelay's Worker: the HTTP API, and the run object it forwards to. */
import { app } from "./routes";

export { RunObject } from "./run/object";
export default app;
