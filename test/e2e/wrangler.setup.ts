/** One `wrangler dev` for all end-to-end tests; each test uses its own run ids. */
import type { TestProject } from "vitest/node";
import { startRelay } from "../support/wrangler";
import { RELAY_VARS } from "./auth";

declare module "vitest" {
  export interface ProvidedContext {
    relayUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const relay = await startRelay({ vars: RELAY_VARS });
  project.provide("relayUrl", relay.url);
  return () => relay.stop();
}
