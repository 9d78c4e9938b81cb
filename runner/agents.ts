/**
 * Leftover agents. A runner that is SIGKILLed (or crashes) leaves its agent
 * process behind: Claude Code's input is closed, but it carries on with the
 * turn in flight (its output goes nowhere) and would then write to the same
 * session as the resumed one. So every agent a runner starts carries two
 * variables in its environment, the run id and the runner's pid; a runner
 * that resumes a session first stops any agent of its run whose runner is
 * gone. Linux only (it reads /proc); elsewhere it does nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive } from "./lock.ts";
import type { Reporter } from "./report.ts";

const RUN_VAR = "RUNRELAY_AGENT_RUN";
const RUNNER_VAR = "RUNRELAY_AGENT_RUNNER";

/** The variables an agent process of this runner carries. */
export function agentMarker(runId: string): Record<string, string> {
  return { [RUN_VAR]: runId, [RUNNER_VAR]: String(process.pid) };
}

/** Pids of agent processes of `runId` whose runner is no longer alive. */
export function leftoverAgents(runId: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return []; // no /proc
  }
  const found: number[] = [];
  for (const name of pids) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    let env: string[];
    try {
      env = readFileSync(`/proc/${name}/environ`, "latin1").split("\0");
    } catch {
      continue; // gone, or not ours to read
    }
    if (!env.includes(`${RUN_VAR}=${runId}`)) continue;
    const runner = Number(env.find((v) => v.startsWith(`${RUNNER_VAR}=`))?.slice(RUNNER_VAR.length + 1));
    // Children of a live runner (its agent, that agent's own tools) are left alone.
    if (runner === process.pid || isAlive(runner)) continue;
    found.push(pid);
  }
  return found;
}

/** Stops the leftover agents of `runId` (SIGTERM, then SIGKILL after `graceMs`), and waits until they are gone. */
export async function stopLeftoverAgents(runId: string, report: Reporter, graceMs = 5000): Promise<void> {
  const pids = leftoverAgents(runId);
  if (pids.length === 0) return;
  report.info(`stopping ${pids.length} agent process(es) left by an earlier runner of this run: ${pids.join(", ")}`);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  // A process that is not our child cannot be awaited: look until it is gone.
  const running = (pid: number) => isAlive(pid) && !isZombie(pid);
  let deadline = Date.now() + graceMs;
  while (pids.some(running) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(running)) signal(pid, "SIGKILL");
  deadline = Date.now() + graceMs;
  while (pids.some(running) && Date.now() < deadline) await sleep(50);
}

/** Exited but not yet reaped by its (new) parent: it runs no more. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}
