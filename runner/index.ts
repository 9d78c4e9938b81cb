/** The runner as a library: run a session from any source, or use its parts. */
export { runSession, type Outcome, type SessionOptions, type Source, type SourceLine } from "./session.ts";
export { loadAgentSdk, MissingSdkError, sdkSource, type SdkSourceOptions } from "./sources/sdk.ts";
export { execSource, type ExecSourceOptions } from "./sources/exec.ts";
export { tailSource, type TailSourceOptions } from "./sources/tail.ts";
export { RelayClient, FatalError, RetryableError, SeqGapError, type RelayOptions } from "./relay.ts";
export { Shipper, DEFAULT_SHIPPER, type ShipperOptions } from "./shipper.ts";
export { Spool, type Batch } from "./spool.ts";
export { reporter, silent, type Reporter } from "./report.ts";
