import { describe, expect, it } from "vitest";
import { IMPORT_HEADER } from "../../../src/wire/csv-import";
import { ADMIN_TOKEN, call, createResource, reserve } from "../../helpers";
import { expectDocumented, openApiDoc } from "../../support/documented";
import { issueKey, json } from "./support";

/** The role matrix, generated from the document: every route for each kind of key. */

describe("roles", () => {
  it("answers every documented route with its documented status for each kind of key", async () => {
    const client = await issueKey("client");
    const revoked = await issueKey("client");
    expect((await call("DELETE", `/admin/api-keys/${revoked.id}`)).status).toBe(200);
    const id = (await createResource({ capacity: 1000, waiting_list_enabled: true })).id as string;
    const reservationId = async (hold = false) => (await json(await reserve(id, { hold }))).id as string;
    const confirmed = async () => reservationId();
    let n = 0;
    const entryId = async () =>
      (await json(await call("POST", "/waiting-list/join", { body: { resource_id: id, client_id: `w${++n}` } })))
        .id as string;
    const keyId = async () => (await issueKey("client")).id;
    const csv = { raw: `${IMPORT_HEADER.join(",")}\n`, headers: { "Content-Type": "text/csv" } };
    const jobId = async () => {
      const headers = { ...csv.headers, Prefer: "respond-async" };
      return (await json(await call("POST", "/admin/resources/import", { raw: csv.raw, headers }))).id as string;
    };

    // A request each documented route answers with success when the key may call it; fresh objects where a
    // success can happen only once (a check-in, a revocation).
    const orderId = async (hold = false) =>
      (await json(await call("POST", "/orders", { body: { client_id: "m", hold, items: [{ resource_id: id }] } })))
        .id as string;
    type Request = { path: string; body?: unknown; raw?: string; headers?: Record<string, string> };
    const requests: Record<string, () => Promise<Request>> = {
      "POST /reservations": async () => ({ path: "/reservations", body: { resource_id: id, client_id: "m" } }),
      "GET /reservations/{id}": async () => ({ path: `/reservations/${await reservationId()}` }),
      "POST /reservations/{id}/confirm": async () => ({ path: `/reservations/${await reservationId(true)}/confirm` }),
      "POST /reservations/{id}/cancel": async () => ({ path: `/reservations/${await reservationId()}/cancel` }),
      "POST /reservations/{id}/check-in": async () => ({ path: `/reservations/${await confirmed()}/check-in` }),
      "POST /orders": async () => ({ path: "/orders", body: { client_id: "m", items: [{ resource_id: id }] } }),
      "GET /orders/{id}": async () => ({ path: `/orders/${await orderId()}` }),
      "POST /orders/{id}/confirm": async () => ({ path: `/orders/${await orderId(true)}/confirm` }),
      "POST /orders/{id}/cancel": async () => ({ path: `/orders/${await orderId()}/cancel` }),
      "GET /admin/orders/{id}/explain": async () => ({ path: `/admin/orders/${await orderId()}/explain` }),
      "POST /waiting-list/join": async () => ({
        path: "/waiting-list/join",
        body: { resource_id: id, client_id: "m" },
      }),
      "GET /waiting-list/{id}": async () => ({ path: `/waiting-list/${await entryId()}` }),
      "DELETE /waiting-list/{id}": async () => ({ path: `/waiting-list/${await entryId()}` }),
      "DELETE /waiting-list/leave": async () => ({ path: "/waiting-list/leave", body: { entry_id: await entryId() } }),
      "GET /availability": async () => ({ path: `/availability?resource_id=${id}` }),
      "POST /resources": async () => ({ path: "/resources", body: { type: "t", capacity: 1 } }),
      "GET /resources": async () => ({ path: "/resources" }),
      "GET /resources/{id}": async () => ({ path: `/resources/${id}` }),
      "PATCH /resources/{id}": async () => ({ path: `/resources/${id}`, body: { metadata: { a: 1 } } }),
      "POST /resources/{id}/close": async () => ({ path: `/resources/${id}/close` }),
      "POST /resources/{id}/reopen": async () => ({ path: `/resources/${id}/reopen` }),
      "GET /admin/resources/{id}/timeline": async () => ({ path: `/admin/resources/${id}/timeline` }),
      "GET /admin/resources/{id}/state": async () => ({ path: `/admin/resources/${id}/state` }),
      "GET /admin/resources/{id}/explain": async () => ({ path: `/admin/resources/${id}/explain?seq=1` }),
      "GET /admin/reservations/{id}/explain": async () => ({
        path: `/admin/reservations/${await reservationId()}/explain`,
      }),
      "GET /admin/audit": async () => ({ path: "/admin/audit" }),
      "GET /admin/dead-letters": async () => ({ path: "/admin/dead-letters" }),
      "GET /admin/reservations/export": async () => ({ path: "/admin/reservations/export" }),
      "POST /admin/resources/import": async () => ({ path: "/admin/resources/import?dry_run=true", ...csv }),
      "POST /admin/api-keys": async () => ({ path: "/admin/api-keys", body: { name: "m", role: "client" } }),
      "GET /admin/api-keys": async () => ({ path: "/admin/api-keys" }),
      "DELETE /admin/api-keys/{id}": async () => ({ path: `/admin/api-keys/${await keyId()}` }),
      "GET /admin/maintenance": async () => ({ path: "/admin/maintenance" }),
      "PUT /admin/maintenance": async () => ({ path: "/admin/maintenance", body: { enabled: false } }),
      "GET /admin/reconciliation": async () => ({ path: "/admin/reconciliation" }),
      "POST /admin/reconciliation": async () => ({ path: "/admin/reconciliation", body: { resource_ids: [id] } }),
      "GET /admin/analytics": async () => ({ path: "/admin/analytics" }),
      "GET /admin/jobs": async () => ({ path: "/admin/jobs" }),
      "GET /admin/jobs/{id}": async () => ({ path: `/admin/jobs/${await jobId()}` }),
      "GET /health": async () => ({ path: "/health" }),
      "GET /ready": async () => ({ path: "/ready" }),
      "GET /metrics": async () => ({ path: "/metrics" }),
      "GET /openapi.json": async () => ({ path: "/openapi.json" }),
      "GET /docs": async () => ({ path: "/docs" }),
    };
    const doc = openApiDoc();
    const operations = Object.entries(doc.paths as Record<string, Record<string, Record<string, any>>>).flatMap(
      ([path, item]) => Object.entries(item).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );
    // Every route the document lists has a request here, and nothing else.
    expect(Object.keys(requests).sort()).toEqual(operations.map((o) => o.route).sort());

    const keys = {
      none: null,
      forged: "rk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      revoked: revoked.key,
      client: client.key,
      admin: ADMIN_TOKEN,
    };
    for (const { route, op } of operations) {
      const roles = op["x-roles"] as string[];
      const successes = Object.keys(op.responses).filter((s) => s.startsWith("2"));
      for (const [kind, key] of Object.entries(keys)) {
        const { path, ...rest } = await (requests[route] as () => Promise<Request>)();
        const method = route.split(" ")[0] as string;
        const res = await call(method, path, { ...rest, auth: key });
        const allowed =
          roles.length === 0 ||
          (kind === "admin" && roles.includes("admin")) ||
          (kind === "client" && roles.includes("client"));
        const denied = roles.length > 0 && (kind === "client" ? "403" : "401");
        const expected = allowed ? successes : [denied];
        expect({ route, kind, ok: expected.includes(String(res.status)) }, `${route} ${kind}: ${res.status}`).toEqual({
          route,
          kind,
          ok: true,
        });
        await expectDocumented(method, path, res);
        await res.arrayBuffer();
      }
    }
  });
});
