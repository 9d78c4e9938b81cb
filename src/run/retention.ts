/**
 * Retention: a run's data is deleted RETENTION_DAYS after its last activity
 * (its end counts), by the object's alarm. The alarm is set once per instance
 * and re-armed by the alarm itself while the run is not yet due.
 */
const DAY_MS = 24 * 3600 * 1000;

export class Retention {
  /** The alarm has been set by this instance. */
  #armed = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly days: () => number,
  ) {}

  /** After a write: make sure the alarm is set. */
  arm(now = Date.now()): void {
    if (this.#armed) return;
    this.#armed = true;
    void this.storage.setAlarm(now + this.days() * DAY_MS);
  }

  /** When the alarm fires: true if a run last active at `updatedAt` is due for deletion; else the alarm is re-armed. */
  async due(updatedAt: number, now = Date.now()): Promise<boolean> {
    const at = updatedAt + this.days() * DAY_MS;
    if (now >= at) return true;
    await this.storage.setAlarm(at);
    return false;
  }

  /** The run's data is gone: no alarm until the next write. */
  async disarm(): Promise<void> {
    await this.storage.deleteAlarm();
    this.#armed = false;
  }
}
