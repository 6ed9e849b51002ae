// @ts-check
// The client side: a few concurrent client loops that reserve (holds and
// direct confirmations), confirm their holds and cancel some of their own
// reservations, every logical request under its own Idempotency-Key. Every
// attempt and its outcome goes to the client log. An attempt that gets no
// whole response is "lost": the loop waits for the server to be back and
// retries with the same key and the same body; the retry's answer is the
// outcome.
import { request } from "./api.mjs";

/** Attempts per logical request before the client gives up on an answer (a violation: it never got one). */
const MAX_ATTEMPTS = 40;

/**
 * @typedef {object} Attempt   one line of the client log
 * @property {number} n        position in the log
 * @property {number} t        when the attempt ended (epoch ms)
 * @property {string} client
 * @property {"reserve"|"confirm"|"cancel"} op
 * @property {string} key      the Idempotency-Key of the logical request
 * @property {number} attempt  1, 2, … (the X-Request-Id is `${key}.${attempt}`)
 * @property {string} request_id
 * @property {string} resource_id
 * @property {string} [reservation_id]   confirm and cancel
 * @property {object} [body]             reserve
 * @property {boolean} lost
 * @property {string} [error]
 * @property {number} [status]
 * @property {boolean} [replayed]
 * @property {any} [response]
 */

/** A small seeded PRNG (mulberry32), so a run's choices can be replayed with --seed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Load {
  /**
   * @param {{ server: import("./server.mjs").DevServer, token: string, clients: number, hot: string,
   *           spread: string[], random: () => number, onAttempt: (a: Attempt) => void }} o
   */
  constructor(o) {
    Object.assign(this, o);
    // Declarations only (set by the assign above), for the type checker.
    /** @type {import("./server.mjs").DevServer} */ this.server;
    /** @type {string} */ this.token;
    /** @type {number} */ this.clients;
    /** @type {string} */ this.hot;
    /** @type {string[]} */ this.spread;
    /** @type {() => number} */ this.random;
    /** @type {(a: Attempt) => void} */ this.onAttempt;
    /** @type {Map<string, any> | undefined} every client's reservations, by id (set by the first client loop) */
    this.reservations;
    this.stopping = false;
    this.inFlight = 0;
    this.counter = 0;
    /** @type {Attempt[]} */
    this.log = [];
    this.loops = [];
  }

  start() {
    for (let i = 0; i < this.clients; i++) this.loops.push(this.clientLoop(`client-${String(i).padStart(2, "0")}`));
  }

  /** Stops issuing new requests and waits until every started one has its outcome. */
  async stop() {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Latest `expires_at` (epoch ms) of a reservation whose last acknowledged status is HELD. */
  latestHeldExpiry() {
    let latest = 0;
    for (const r of this.reservations?.values() ?? []) {
      if (r.status === "HELD" && r.expiresAt) latest = Math.max(latest, r.expiresAt);
    }
    return latest;
  }

  async clientLoop(client) {
    const random = this.random;
    /** This client's reservations: id → { status (last acknowledged), resource, expiresAt, confirmLater, done } */
    const mine = new Map();
    this.reservations ??= new Map();
    let n = 0;
    while (!this.stopping) {
      const now = Date.now();
      const holds = [...mine].filter(([, r]) => r.status === "HELD" && r.confirmLater && !r.done && r.expiresAt > now);
      const active = [...mine].filter(([, r]) => (r.status === "HELD" || r.status === "CONFIRMED") && !r.done);
      const key = `${client}-${String(++n).padStart(6, "0")}`;
      const roll = random();
      if (holds.length > 0 && roll < 0.25) {
        const [id, r] = holds[Math.floor(random() * holds.length)];
        const answer = await this.perform(client, key, { op: "confirm", resource_id: r.resource, reservation_id: id });
        if (answer?.status === 200) r.status = answer.body.status;
        else r.done = true; // refused (e.g. the hold lapsed): leave it alone
      } else if (active.length > 0 && roll < 0.35) {
        const [id, r] = active[Math.floor(random() * active.length)];
        const answer = await this.perform(client, key, { op: "cancel", resource_id: r.resource, reservation_id: id });
        if (answer?.status === 200) r.status = answer.body.status;
        r.done = true;
      } else {
        const hot = random() < 0.5;
        const resource = hot ? this.hot : this.spread[Math.floor(random() * this.spread.length)];
        const hold = random() < 0.35;
        const body = {
          resource_id: resource,
          client_id: client,
          quantity: 1 + Math.floor(random() * (hot ? 3 : 2)),
          hold,
          metadata: { k: key },
        };
        const answer = await this.perform(client, key, { op: "reserve", resource_id: resource, body });
        if (answer?.status === 201) {
          const r = {
            status: answer.body.status,
            resource,
            expiresAt: answer.body.expires_at ? Date.parse(answer.body.expires_at) : null,
            // Most holds are confirmed a moment later; the others are left to expire.
            confirmLater: hold && random() < 0.7,
            done: false,
          };
          mine.set(answer.body.id, r);
          this.reservations.set(answer.body.id, r);
        }
      }
    }
  }

  /**
   * One logical request: attempts until an answer that is an outcome (not lost, not 5xx).
   * @returns {Promise<{status: number, body: any} | null>} null if it never got one
   */
  async perform(client, key, o) {
    const { op, resource_id, reservation_id, body } = o;
    const path = op === "reserve" ? "/reservations" : `/reservations/${encodeURIComponent(reservation_id)}/${op}`;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await this.server.whenUp();
      const request_id = `${key}.${attempt}`;
      this.inFlight += 1;
      const answer = await request(`${this.server.base}${path}`, {
        method: "POST",
        token: this.token,
        body,
        headers: { "idempotency-key": key, "x-request-id": request_id },
      });
      this.inFlight -= 1;
      /** @type {Attempt} */
      const entry = {
        n: this.counter++,
        t: Date.now(),
        client,
        op,
        key,
        attempt,
        request_id,
        resource_id,
        ...(reservation_id ? { reservation_id } : {}),
        ...(body ? { body } : {}),
        lost: answer.lost,
        ...(answer.lost
          ? { error: answer.error }
          : { status: answer.status, replayed: answer.replayed, response: answer.body }),
      };
      this.log.push(entry);
      this.onAttempt(entry);
      if (!answer.lost && answer.status < 500) return { status: answer.status, body: answer.body };
      // Lost: the server is probably being killed; perform waits for it at the top of the loop.
      // A 5xx is not an outcome either (nothing is stored for it): try again shortly.
      await new Promise((r) => setTimeout(r, answer.lost ? 50 : 250));
    }
    return null;
  }
}
