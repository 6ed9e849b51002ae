// @ts-check
// Orders in the chaos run: a few client loops that place orders of 2–5 items
// on their own resources (some held, then confirmed or cancelled), each under
// its own Idempotency-Key, retried with the same key and body whenever the
// answer was lost or was a 5xx (a 503 says the order's items are still being
// updated). After the load, every order must end all or nothing, within the
// hold TTL plus a minute of recovery: confirmed with every item confirmed, or
// final and holding nothing; and each resource's places are exactly its
// confirmed orders' items.
import { request } from "./api.mjs";
import { sleep } from "./server.mjs";

const MAX_ATTEMPTS = 40;
/** After the last hold's end: the recovery the API allows (a minute), and a little more for the alarms. */
export const ORDER_RECOVERY_MS = 70_000;
const FINAL = new Set(["CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED"]);

export class OrderLoad {
  /**
   * @param {{ server: import("./server.mjs").DevServer, token: string, clients: number, resources: string[],
   *           random: () => number }} o
   */
  constructor(o) {
    this.server = o.server;
    this.token = o.token;
    this.clients = o.clients;
    this.resources = o.resources;
    this.random = o.random;
    this.stopping = false;
    /** key → { ids: Set of order ids any answer named, attempts, final status code } */
    this.byKey = new Map();
    /** Latest expires_at of an order acknowledged HELD (epoch ms). */
    this.latestHeld = 0;
    this.loops = [];
  }

  start() {
    for (let i = 0; i < this.clients; i++) this.loops.push(this.loop(`order-${String(i).padStart(2, "0")}`));
  }

  async stop() {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Every order id an answer named. */
  orderIds() {
    return [...new Set([...this.byKey.values()].flatMap((k) => [...k.ids]))];
  }

  async loop(client) {
    let n = 0;
    const held = [];
    while (!this.stopping) {
      const key = `${client}-${String(++n).padStart(6, "0")}`;
      const roll = this.random();
      if (held.length > 0 && roll < 0.3) {
        const id = held.splice(Math.floor(this.random() * held.length), 1)[0];
        await this.perform(key, `/orders/${id}/${this.random() < 0.75 ? "confirm" : "cancel"}`, undefined);
        continue;
      }
      const count = 2 + Math.floor(this.random() * 4); // 2–5 items
      const picked = [...this.resources].sort(() => this.random() - 0.5).slice(0, count);
      const hold = this.random() < 0.4;
      const body = { client_id: client, hold, items: picked.map((resource_id) => ({ resource_id, quantity: 1 })) };
      const answer = await this.perform(key, "/orders", body);
      if (answer?.status === 201 && answer.body.status === "HELD") {
        held.push(answer.body.id);
        this.latestHeld = Math.max(this.latestHeld, Date.parse(answer.body.expires_at));
      }
    }
  }

  /** One logical request, retried until an answer that is not lost and not a 5xx. */
  async perform(key, path, body) {
    const record = { ids: new Set(), attempts: 0, final: /** @type {number | null} */ (null) };
    this.byKey.set(key, record);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await this.server.whenUp();
      record.attempts = attempt;
      const answer = await request(`${this.server.base}${path}`, {
        method: "POST",
        token: this.token,
        body,
        headers: { "idempotency-key": key, "x-request-id": `${key}.${attempt}` },
      });
      const id = answer.body?.id ?? answer.body?.order_id;
      if (typeof id === "string" && id.startsWith("ord_")) record.ids.add(id);
      if (!answer.lost && answer.status < 500) {
        record.final = answer.status;
        return { status: answer.status, body: answer.body };
      }
      await sleep(answer.lost ? 50 : 250);
    }
    return null;
  }

  /** Waits until every order the clients heard of is final and settled, or the recovery window has passed. */
  async settled(admin) {
    const deadline = Math.max(Date.now(), this.latestHeld) + ORDER_RECOVERY_MS;
    for (;;) {
      const orders = await Promise.all(this.orderIds().map((id) => admin.get(`/orders/${id}`).then((r) => r.body)));
      const open = orders.filter((o) => !FINAL.has(o?.status) || o.items.some((i) => i.status === "HELD"));
      if (open.length === 0 || Date.now() > deadline) return { orders, open: open.length };
      await sleep(2000);
    }
  }

  /**
   * All or nothing, and every place accounted for.
   * @param {any[]} orders GET /orders/{id} of every order heard of
   * @param {Record<string, any>} resources GET /resources/{id} of the order resources, once quiet
   */
  verify(orders, resources) {
    const violations = [];
    const fail = (message) => violations.push({ check: "orders", message });
    const expected = Object.fromEntries(this.resources.map((id) => [id, 0]));
    const statuses = {};
    for (const o of orders) {
      statuses[o.status] = (statuses[o.status] ?? 0) + 1;
      const items = o.items.map((i) => i.status);
      if (o.status === "CONFIRMED") {
        if (items.some((s) => s !== "CONFIRMED" && s !== "CHECKED_IN"))
          fail(`${o.id} is CONFIRMED but its items are ${items.join(", ")}`);
        for (const i of o.items) expected[i.resource_id] += i.quantity;
      } else if (!FINAL.has(o.status)) {
        fail(`${o.id} is still ${o.status} after the recovery window`);
      } else if (items.some((s) => s === "HELD" || s === "CONFIRMED" || s === "CHECKED_IN")) {
        fail(`${o.id} is ${o.status} but its items are ${items.join(", ")}: a place is still taken`);
      }
    }
    for (const [id, n] of Object.entries(expected)) {
      const r = resources[id];
      if (r.held !== 0) fail(`${id} still holds ${r.held} place(s) after every order ended`);
      if (r.confirmed !== n) fail(`${id} has ${r.confirmed} confirmed, its confirmed orders' items ${n}`);
      if (r.confirmed + r.held > r.capacity) fail(`${id} is overbooked: ${r.confirmed} + ${r.held} > ${r.capacity}`);
    }
    for (const [key, k] of this.byKey) {
      if (k.final === null) fail(`${key} never got an answer in ${k.attempts} attempts`);
      if (k.ids.size > 1) fail(`${key} was answered with ${k.ids.size} different orders: ${[...k.ids].join(", ")}`);
    }
    return { violations, stats: { orders: orders.length, statuses, keys: this.byKey.size } };
  }
}
