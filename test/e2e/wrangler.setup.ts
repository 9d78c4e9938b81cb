/** One `wrangler dev` for all end-to-end tests; each test uses its own run ids. */
import type { TestProject } from "vitest/node";
import { startRelay } from "../support/wrangler";

declare module "vitest" {
  export interface ProvidedContext {
    relayUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const relay = await startRelay();
  project.provide("relayUrl", relay.url);
  return () => relay.stop();
}
