/** The runner as a library: run a session from any source, or use its parts. */
export { runSession, type Outcome, type SessionOptions, type Source, type SourceLine, type SourceStart } from "./session.ts";
export { loadAgentSdk, MissingSdkError, sdkSource, type SdkSourceOptions } from "./sources/sdk.ts";
export { execSource, type ExecSourceOptions } from "./sources/exec.ts";
export { tailSource, type TailSourceOptions } from "./sources/tail.ts";
export { RelayClient, FatalError, RetryableError, SeqGapError, type RelayOptions, type TokenSource } from "./relay.ts";
export { Shipper, DEFAULT_SHIPPER, TookOverError, type ShipperOptions } from "./shipper.ts";
export { Spool, PRODUCER_ID, type Batch } from "./spool.ts";
export { lockSpool, SpoolInUseError } from "./lock.ts";
export { TurnTracker } from "./turns.ts";
export type { SourceControl } from "./control.ts";
export type { Ask, ControlAnswer, ControlRequestBody } from "./prompts.ts";
export { reporter, silent, type Reporter } from "./report.ts";
