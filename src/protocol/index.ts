/**
 * The wire contract: every body, frame, header and constant that crosses a
 * boundary, as zod schemas and the TypeScript types inferred from them. The
 * Worker, the run object, the runner and the client library all import from
 * here. This folder depends on zod and nothing else (test/layout.test.ts).
 */
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./frames.ts";
export * from "./framing.ts";
export * from "./inputs.ts";
export * from "./issues.ts";
export * from "./json.ts";
export * from "./limits.ts";
export * from "./live.ts";
export * from "./run.ts";
export * from "./session.ts";
export * from "./session-framing.ts";
export * from "./tokens.ts";
