import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from "../../src/resource-object/schema";
import { ResourceStore } from "../../src/resource-object/store";
import { WaitingListStore } from "../../src/resource-object/waiting-list-store";
import { objectOf, uniqueId } from "../helpers";

const T = Date.parse("2026-11-30T12:00:00.000Z");

describe("the object's schema migrations", () => {
  it("v4 keeps a v3 waiting list, gives old offers one default TTL, admits EXPIRED and adds the offer TTL rule", async () => {
    const id = uniqueId("v3");
    await runInDurableObject(objectOf(id), (_, state) => {
      const sql = state.storage.sql;
      state.storage.transactionSync(() => migrate(sql, 3));
      sql.exec(
        `INSERT INTO resource VALUES (1, ?, 'session', 'OPEN', 2, 1, 0, 1, NULL, NULL, NULL, 600, '{}', 3, 1, ?, ?, 4, ?)`,
        id,
        T,
        T,
        T,
      );
      const insert = (entry: string, status: string, quantity: number, seq: number, notifiedAt: number | null) =>
        sql.exec(
          `INSERT INTO waiting_list (id, client_id, quantity, status, server_seq, joined_at, notified_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          entry,
          `client-${entry}`,
          quantity,
          status,
          seq,
          T,
          notifiedAt,
        );
      insert("offered", "NOTIFIED", 1, 2, T + 5);
      insert("waiting", "WAITING", 1, 3, null);
      insert("booked", "FULFILLED", 1, 4, T + 1);

      state.storage.transactionSync(() => migrate(sql));
      expect(schemaVersion(sql)).toBe(LATEST_SCHEMA_VERSION);
      expect(new ResourceStore(sql).loadResource()?.state).toMatchObject({ waitingListOfferTtlSeconds: 900 });
      const entries = new WaitingListStore(sql, () => id);
      expect(entries.get("offered")).toMatchObject({ status: "NOTIFIED", offerExpiresAt: T + 5 + 900_000, offered: 1 });
      expect(entries.get("waiting")).toMatchObject({
        status: "WAITING",
        position: 1,
        offerExpiresAt: null,
        offered: 0,
      });
      expect(entries.get("booked")).toMatchObject({ status: "FULFILLED", offered: 0 });
      expect(entries.counts()).toEqual({ waiting: 1, notified: 1, offered: 1 });
      expect(entries.nextLapse()).toBe(T + 5 + 900_000);

      entries.close("offered", "EXPIRED", T + 900_005); // the old CHECK refused this status
      expect(entries.get("offered")).toMatchObject({ status: "EXPIRED", expiredAt: T + 900_005, offered: 0 });
      const indexes = sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'waiting_list'")
        .toArray()
        .map((r) => r.name)
        .filter((n) => !n.startsWith("sqlite_"));
      expect(indexes.sort()).toEqual([
        "waiting_list_active_client",
        "waiting_list_lapses",
        "waiting_list_offers",
        "waiting_list_queue",
      ]);
    });
  });

  it("v5 queues again the webhook events that were waiting for a retry, then drops the retry table", async () => {
    const id = uniqueId("v4");
    await runInDurableObject(objectOf(id), (_, state) => {
      const sql = state.storage.sql;
      state.storage.transactionSync(() => migrate(sql, 4));
      sql.exec("UPDATE outbox_state SET drained_seq = 9, webhook_seq = 9");
      sql.exec(
        "INSERT INTO webhook_retries (seq, url, attempts, next_at, last_error) VALUES (6, 'https://a.example/x', 2, 0, 'e'), (8, 'https://a.example/x', 1, 0, 'e')",
      );
      state.storage.transactionSync(() => migrate(sql));
      expect(sql.exec("SELECT webhook_seq, drained_seq FROM outbox_state").one()).toEqual({
        webhook_seq: 5,
        drained_seq: 9,
      });
      const tables = sql.exec("SELECT name FROM sqlite_master WHERE name = 'webhook_retries'").toArray();
      expect(tables).toEqual([]);
    });
  });

  it("v5 leaves the webhook cursor alone when no retry was pending", async () => {
    const id = uniqueId("v4b");
    await runInDurableObject(objectOf(id), (_, state) => {
      const sql = state.storage.sql;
      state.storage.transactionSync(() => migrate(sql, 4));
      sql.exec("UPDATE outbox_state SET webhook_seq = 9");
      state.storage.transactionSync(() => migrate(sql));
      expect(sql.exec("SELECT webhook_seq FROM outbox_state").one()).toEqual({ webhook_seq: 9 });
    });
  });
  it("a new object gets in one script the schema the migrations build step by step", async () => {
    type Shape = Record<string, unknown>;
    const shape = (sql: SqlStorage): Shape => {
      const out: Shape = {};
      const objects = sql
        .exec<{ type: string; name: string; tbl_name: string; sql: string | null }>(
          "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE '_cf_%' ORDER BY name",
        )
        .toArray();
      for (const o of objects) {
        if (o.type === "table") {
          out[o.name] = {
            columns: sql.exec(`SELECT * FROM "${o.name}" LIMIT 0`).columnNames,
            rows: sql.exec(`SELECT * FROM "${o.name}"`).toArray(),
            indexes: sql
              .exec(`PRAGMA index_list("${o.name}")`)
              .toArray()
              .map(({ seq: _, ...i }) => i),
          };
        } else if (o.type === "index") {
          out[o.name] = {
            table: o.tbl_name,
            sql: o.sql?.replace(/\s+/g, " ") ?? null,
            columns: sql.exec(`PRAGMA index_xinfo("${o.name}")`).toArray(),
          };
        }
      }
      return out;
    };
    let fresh: Shape = {};
    let stepwise: Shape = {};
    await runInDurableObject(objectOf(uniqueId("fresh")), (_, state) => {
      state.storage.transactionSync(() => migrate(state.storage.sql));
      fresh = shape(state.storage.sql);
    });
    await runInDurableObject(objectOf(uniqueId("stepwise")), (_, state) => {
      const sql = state.storage.sql;
      for (let v = 1; v <= LATEST_SCHEMA_VERSION; v++) state.storage.transactionSync(() => migrate(sql, v));
      stepwise = shape(sql);
    });
    expect(Object.keys(fresh).length).toBeGreaterThan(10);
    expect(fresh).toEqual(stepwise);
  });
});
