/**
 * One runner per spool: `<spool>.lock`, created with O_EXCL and holding the
 * runner's pid. A second runner on the same spool is refused before it sends
 * anything; a lock whose process is gone (a runner that was SIGKILLed or
 * crashed) is taken over.
 *
 * Why not proper-lockfile (or any mtime-based lock): those call a lock stale
 * after N seconds without a refresh, so they need a timer that keeps touching
 * the lock, and they would hand the spool to a second runner while the first
 * is merely slow, stopped (SIGSTOP, a suspended machine) or starved of CPU:
 * exactly the case where two runners would then send the same batches. A spool
 * is a local file, so the lock holder is on this machine, and whether its pid
 * is alive is an exact answer with no clock involved. (A pid reused by an
 * unrelated process after a crash keeps the spool refused until that process
 * ends; the error names the pid, so a person can check and remove the lock.)
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

/** Another live process holds the spool. */
export class SpoolInUseError extends Error {
  readonly pid: number;
  constructor(spool: string, pid: number) {
    super(`the spool ${spool} is in use by process ${pid}`);
    this.name = "SpoolInUseError";
    this.pid = pid;
  }
}

/** True if a process with this pid exists (whoever owns it). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, but not ours to signal
  }
}

export interface SpoolLock {
  readonly path: string;
  /** The pid of a dead runner whose lock was taken over, if any. */
  readonly tookOverFrom: number | undefined;
  release(): void;
}

/** Takes `<spool>.lock`, or throws SpoolInUseError naming the live process that holds it. */
export function lockSpool(spool: string, pid = process.pid): SpoolLock {
  const path = `${spool}.lock`;
  let tookOverFrom: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx"); // O_CREAT | O_EXCL: exactly one process creates it
      try {
        writeSync(fd, `${pid}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return {
        path,
        tookOverFrom,
        release() {
          if (released) return;
          released = true;
          // Only our own lock: never remove one another runner took over after us.
          if (readHolder(path) === pid) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(path);
    if (holder === undefined) {
      // Gone since (released), or being written this instant by its creator: look again.
      if (attempt < 50) continue;
      throw new Error(`cannot read the lock ${path}; remove it if no runner is using the spool`);
    }
    // Our own pid: a lock left by an earlier runner that had the same pid (a container's pid 1, say).
    if (holder !== pid && isAlive(holder)) throw new SpoolInUseError(spool, holder);
    // A dead runner's lock: take it over. Removing only if it still names that runner keeps two
    // runners that both found it dead from removing each other's fresh lock (one wins O_EXCL).
    if (readHolder(path) === holder) rmSync(path, { force: true });
    tookOverFrom = holder;
    if (attempt >= 50) throw new Error(`cannot take over the lock ${path}`);
  }
}

function readHolder(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return text.trim() && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
