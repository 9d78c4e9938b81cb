/**
 * The OpenAPI document the real relay serves is valid OpenAPI 3.1. Checked
 * here, in Node, because the validator cannot run in workerd (it reads its
 * schemas from disk and compiles them with Ajv); what the document says is
 * checked in test/worker/openapi.test.ts.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, inject, it } from "vitest";

describe("OpenAPI document", () => {
  it("is valid OpenAPI 3.1, served without a token", async () => {
    const res = await fetch(`${inject("relayUrl")}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(await res.json());
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has no API reference page outside npm run dev", async () => {
    const res = await fetch(`${inject("relayUrl")}/api/v1/reference`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
