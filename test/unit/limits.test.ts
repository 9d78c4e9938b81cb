import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/protocol/index.ts";
import { limits } from "../../src/run/limits.ts";

describe("limits from vars", () => {
  it("takes each var, falls back to the default for a missing or unusable one", () => {
    expect(limits({})).toEqual(DEFAULT_LIMITS);
    expect(limits({ MAX_PAGE_SIZE: "50", MAX_BATCH_LINES: "nope", RETENTION_DAYS: "0.5" })).toMatchObject({
      maxPageSize: 50,
      maxBatchLines: DEFAULT_LIMITS.maxBatchLines,
      retentionDays: 0.5,
    });
  });

  it("caps a line below SQLite's 2 MB row limit, whatever the var says", () => {
    expect(limits({ MAX_LINE_BYTES: "5000000" }).maxLineBytes).toBe(1_900_000);
    expect(limits({ MAX_LINE_BYTES: "2048" }).maxLineBytes).toBe(2048);
  });
});
