/**
 * The OpenAPI document: served without a token, covering every route of the
 * app with the protocol's schemas. That it is valid OpenAPI 3.1 is checked in
 * Node (test/e2e/openapi.test.ts): the validator reads its JSON schemas from
 * disk and compiles them with Ajv, neither of which workerd allows.
 */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { app, createRelay } from "../../src/index.ts";
import { fetchWorker } from "./support";

type Json = Record<string, any>;

const DOC_URL = "http://relay.test/api/v1/openapi.json";
const SKIP = new Set(["/api/v1/openapi.json", "/api/v1/reference"]);

async function documentOf(): Promise<Json> {
  const res = await fetchWorker(DOC_URL);
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  return res.json();
}

/** Follows `#/components/schemas/…` references. */
function deref(doc: Json, schema: Json): Json {
  while (schema.$ref) schema = doc.components.schemas[String(schema.$ref).replace("#/components/schemas/", "")];
  return schema;
}

describe("OpenAPI document", () => {
  it("is served without a token, as OpenAPI 3.1", async () => {
    const doc = await documentOf();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "runrelay", version: "0.1.0" });
    expect(doc.servers).toBeUndefined(); // served at the root
  });

  it("describes every route of the app, each with a response schema", async () => {
    const doc = await documentOf();
    const routes = new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && !SKIP.has(r.path))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}").replace(/(.)\/$/, "$1")}`),
    );
    expect(routes.size).toBe(17);
    for (const route of routes) {
      const [method, path] = route.split(" ") as [string, string];
      const op = doc.paths[path]?.[method];
      expect(op, route).toBeDefined();
      const responses = Object.values(op.responses as Record<string, Json>);
      const schemas = responses.flatMap((r) => Object.values((r.content ?? {}) as Record<string, Json>).map((m) => m.schema));
      expect(schemas.length, route).toBeGreaterThan(0);
    }
    const documented = Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`));
    expect(new Set(documented)).toEqual(routes);
  });

  it("gives the run routes the protocol's schemas", async () => {
    const doc = await documentOf();
    const run = "/api/v1/workflows/{runId}";
    const body = (path: string, method: string, status: string, type = "application/json") =>
      deref(doc, doc.paths[path][method].responses[status].content[type].schema);

    expect(Object.keys(body(run, "get", "200").properties)).toEqual(expect.arrayContaining(["runId", "status", "clients", "pendingInputs"]));
    expect(Object.keys(body(`${run}/inputs`, "get", "200").properties)).toEqual(["inputs", "ended", "leaseSeconds"]);
    expect(Object.keys(body(`${run}/producers/{producerId}/claim`, "post", "200").properties)).toEqual(["producerId", "epoch"]);
    expect(Object.keys(body(`${run}/inputs/undelivered`, "post", "200").properties)).toEqual(["lastEventId"]);
    expect(doc.paths[`${run}/heartbeat`].post.responses["204"]).toBeDefined();
    expect(Object.keys(body(`${run}/events`, "get", "200").properties)).toEqual(["events", "lastEventId", "status", "ended"]);
    expect(Object.keys(body(`${run}/events`, "post", "200").properties)).toEqual(["lastEventId"]);
    expect(Object.keys(body(`${run}/messages`, "post", "202").properties)).toEqual(["id", "eventId"]);
    expect(Object.keys(body("/api/v1/tokens", "post", "201").properties)).toEqual(["token", "expiresAt"]);
    expect(Object.keys(body(`${run}/events`, "post", "409").properties)).toEqual(["error"]);

    // Request bodies, parameters, security.
    const append = doc.paths[`${run}/events`].post;
    expect(append.requestBody.content["application/x-ndjson"].schema.type).toBe("string");
    expect(append.parameters.map((p: Json) => p.name)).toEqual(["runId", "Producer-Id", "Producer-Epoch", "Producer-Seq"]);
    expect(append.parameters[0].schema.pattern).toBe("^[A-Za-z0-9._-]{1,128}$");
    expect(deref(doc, doc.paths[`${run}/complete`].post.requestBody.content["application/json"].schema).required).toEqual(["status"]);
    expect(doc.paths[`${run}/stream`].get.security).toEqual([{ bearerToken: ["read"] }, { queryToken: ["read"] }]);
    expect(Object.keys(doc.components.securitySchemes)).toEqual(["bearerToken", "queryToken"]);

    // SSE and WebSocket frames.
    const sse = body(`${run}/stream`, "get", "200", "text/event-stream");
    expect(sse.anyOf ?? sse.oneOf).toHaveLength(7); // sdk, input, status, delta, draft, end, token_expired
    for (const name of ["SseEvent", "SseEndData", "Entry", "ServerFrame", "ClientFrame", "InputEntryData", "ErrorBody", "DeltaData", "DraftData", "DraftBlock"]) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    expect(doc.paths[`${run}/ws`].get.responses["101"]).toBeDefined();
  });

  it("serves the API reference only under npm run dev", async () => {
    const res = await fetchWorker("http://relay.test/api/v1/reference");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });

    const dev = await app.request("/api/v1/reference", {}, { ...env, RELAY_DEV: "true" });
    expect(dev.status).toBe(200);
    expect(dev.headers.get("Content-Type")).toMatch(/^text\/html/);
    // Swagger UI, pointed at the document relative to the page, so it resolves under any prefix.
    expect(await dev.text()).toContain("url: 'openapi.json'");
    expect(new URL("openapi.json", "http://relay.test/api/v1/reference").pathname).toBe("/api/v1/openapi.json");
  });

  it("names the mount prefix as its server when the relay is mounted", async () => {
    const outer = new Hono().route("/relay", createRelay());
    const res = await outer.request("/relay/api/v1/openapi.json", {}, env);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Json;
    expect(doc.servers).toEqual([{ url: "/relay" }]);
    expect(Object.keys(doc.paths)).toEqual(Object.keys((await documentOf()).paths));

    const page = await outer.request("/relay/api/v1/reference", {}, { ...env, RELAY_DEV: "true" });
    expect(await page.text()).toContain("url: 'openapi.json'");
    expect(new URL("openapi.json", "http://relay.test/relay/api/v1/reference").pathname).toBe("/relay/api/v1/openapi.json");
  });
});
