/**
 * The run object's one alarm, shared by everything that must happen at a
 * time: retention (the run's data is deleted RETENTION_DAYS after its last
 * activity), liveness (a silent runner stalls the run, a long stall fails it;
 * liveness.ts) and token expiry (idle WebSocket viewers are closed when their
 * token expires). It is set to the earliest of them; when it fires, the
 * object does what is due and sets it again. A deadline that moves later
 * (every append moves the runner's) costs no storage write: the alarm fires
 * early, finds nothing due, and is set again.
 */
const DAY_MS = 24 * 3600 * 1000;

/** When a run last active at `updatedAt` is due for deletion. */
export const retentionDue = (updatedAt: number, days: number): number => updatedAt + days * DAY_MS;

/** The earliest of some deadlines (ms), or null if there is none. */
export function earliest(...deadlines: (number | null | undefined)[]): number | null {
  let at: number | null = null;
  for (const d of deadlines) if (d != null && (at === null || d < at)) at = d;
  return at;
}

export class AlarmClock {
  /** When the alarm is set to fire, as this instance knows it (read once at start). */
  #at: number | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
  ) {
    void ctx.blockConcurrencyWhile(async () => {
      this.#at = await ctx.storage.getAlarm();
    });
  }

  /** Makes sure the alarm fires no later than `at` (ms). */
  by(at: number): void {
    if (this.#at !== null && this.#at <= at) return;
    this.#at = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** The alarm is firing: it is no longer set. */
  fired(): void {
    this.#at = null;
  }

  /** The run's data is gone: no alarm until the next write. */
  async clear(): Promise<void> {
    this.#at = null;
    await this.ctx.storage.deleteAlarm();
  }
}
