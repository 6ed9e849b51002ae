import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { call, createResource, reserve, settle, uniqueId } from "../helpers";

describe("GET /resources (listing from D1)", () => {
  it("pages through the registry with an opaque cursor and filters by type and state", async () => {
    const type = uniqueId("kind");
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await createResource({ id: `${type}-${i}`, type, capacity: i + 1 }));
    await call("POST", `/resources/${type}-3/close`);
    for (const r of made) await settle(r.id as string);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call("GET", `/resources?type=${type}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      const page = await res.json<{ items: { id: string }[]; next_cursor: string | null }>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(made.map((r) => r.id));

    const closed = await (await call("GET", `/resources?type=${type}&state=CLOSED`)).json<{ items: any[] }>();
    expect(closed.items.map((i) => [i.id, i.state])).toEqual([[`${type}-3`, "CLOSED"]]);
    expect((await call("GET", "/resources?cursor=not-a-cursor")).status).toBe(400);
  });
});

describe("GET /admin/reservations/export", () => {
  it("round-trips commas, quotes and newlines in metadata through a real CSV parser", async () => {
    const resource = await createResource({ capacity: 10 });
    const id = resource.id as string;
    const tricky = { note: 'He said "hi", then\nleft; comma, quote " and\r\nCRLF', emoji: "🎫" };
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push(await (await reserve(id, { client_id: `c,${i}"`, metadata: tricky })).json<Record<string, any>>());
    }
    await settle(id);

    const res = await call("GET", `/admin/reservations/export?resource_id=${id}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/csv");
    const rows = parse(await res.text(), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.id)).toEqual(made.map((m) => m.id));
    for (const [i, row] of rows.entries()) {
      expect(row.client_id).toBe(`c,${i}"`);
      expect(JSON.parse(row.metadata as string)).toEqual(tricky);
      expect(Number(row.quantity)).toBe(1);
      expect(row.status).toBe("CONFIRMED");
    }

    const ndjson = await (await call("GET", `/admin/reservations/export?resource_id=${id}&format=ndjson`)).text();
    const lines = ndjson
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(made);
  });

  it("neutralises formula cells in CSV (a leading '), and NDJSON carries the values unchanged", async () => {
    const resource = await createResource({ capacity: 10 });
    const id = resource.id as string;
    const clients = ['=HYPERLINK("https://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "plain"];
    for (const client_id of clients) await reserve(id, { client_id, metadata: { n: -1 } });
    await settle(id);

    const csv = await (await call("GET", `/admin/reservations/export?resource_id=${id}&format=csv`)).text();
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.client_id)).toEqual(clients.map((c) => (c === "plain" ? c : `'${c}`)));
    // Numbers and times stay as they are; metadata is JSON text starting with "{".
    expect(rows.map((r) => r.quantity)).toEqual(clients.map(() => "1"));
    expect(rows.every((r) => /^\d{4}-\d\d-\d\dT/.test(r.server_timestamp as string))).toBe(true);
    expect(rows.map((r) => r.metadata)).toEqual(clients.map(() => '{"n":-1}'));

    const ndjson = await (await call("GET", `/admin/reservations/export?resource_id=${id}&format=ndjson`)).text();
    expect(
      ndjson
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).client_id),
    ).toEqual(clients);
  });

  it("filters by time range and streams more than one page", async () => {
    const resource = await createResource({ capacity: 2000 });
    const id = resource.id as string;
    for (let round = 0; round < 12; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => reserve(id, { client_id: `c-${round}-${i}` })));
    }
    await settle(id);
    const all = (await (await call("GET", `/admin/reservations/export?resource_id=${id}`)).text()).trim().split("\n");
    expect(all).toHaveLength(1200);
    expect(new Set(all.map((l) => JSON.parse(l).id)).size).toBe(1200);

    const middle = JSON.parse(all[600] as string).server_timestamp as string;
    const late = (await (await call("GET", `/admin/reservations/export?resource_id=${id}&from=${middle}`)).text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((r) => r.server_timestamp >= middle)).toBe(true);
    expect((await call("GET", `/admin/reservations/export?from=${middle}&to=${middle}`)).status).toBe(400);
  });
});

describe("registry freshness", () => {
  it("carries the waiting-list length into the listing", async () => {
    const type = uniqueId("wl-kind");
    const resource = await createResource({ id: `${type}-a`, type, capacity: 1, waiting_list_enabled: true });
    await reserve(resource.id as string, { client_id: "full" }); // full, so both entries wait
    for (const client of ["a", "b"]) {
      await call("POST", "/waiting-list/join", { body: { resource_id: resource.id, client_id: client } });
    }
    await settle(resource.id as string);
    const listed = await (await call("GET", `/resources?type=${type}`)).json<{ items: any[] }>();
    expect(listed.items[0]).toMatchObject({ id: resource.id, waiting_list_length: 2 });
  });
});
