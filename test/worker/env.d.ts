import type { Env as RelayEnv } from "../../src/worker/config.ts";

declare global {
  namespace Cloudflare {
    interface Env extends RelayEnv {}
    interface GlobalProps {
      mainModule: typeof import("../../src/index");
      durableNamespaces: "RunObject" | "RunFanout";
    }
  }
}
