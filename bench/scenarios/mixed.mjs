// @ts-check
// mixed: 90% availability reads, 8% reservations, 2% cancels (with the admin
// key, of reservations this script made), over 100 resources: closer to a
// real sale than any single-route run.
import { adminHeaders, createResources, MAX_CAPACITY, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reservationBody, reservePicked } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

const RESOURCES = 100;
const READ_SHARE = 0.9;
const RESERVE_SHARE = 0.08; // the remaining 2% cancel
/** Reservations made before the first run, so that cancels never wait for ids. */
const PREFILL = 2000;
const ID_PATTERN = /"id":"(rsv_[^"]+)"/;

export const mixed = {
  name: "mixed",
  async setup({ server, connections }) {
    const ids = Array.from({ length: RESOURCES }, (_, i) => `mix-${String(i).padStart(3, "0")}`);
    await createResources(server, ids, MAX_CAPACITY);
    const pool = [];
    const fill = reservePicked(server, ids, () => Math.floor(Math.random() * RESOURCES));
    fill.requests[0].onResponse = (status, body) => status === 201 && pool.push(body.match(ID_PATTERN)[1]);
    await runLoad(server, { ...fill, connections, amount: PREFILL });
    return { ids, pool, before: await settledTotals(server, ids) };
  },
  async measure({ server, connections, duration }, state) {
    const { ids, pool } = state;
    const admin = adminHeaders(server);
    // The cancel route takes no body; sending one it does not read makes
    // workerd reset the connection (seen with a body on a 404).
    const adminNoBody = { authorization: admin.authorization };
    const reserveBodies = ids.map(reservationBody);
    const reads = ids.map((id) => `/availability?resource_id=${id}`);
    const random = (n) => Math.floor(Math.random() * n);
    const kinds = ["read", "reserve", "cancel"];
    const sent = { read: 0, reserve: 0, cancel: 0 };
    const answered = { read: 0, reserve: 0, cancel: 0 };
    const status = { read: {}, reserve: {}, cancel: {} };
    let cancelled = 0;
    let cancelRouteMissing = 0;

    const pickKind = () => {
      const r = Math.random();
      if (r < READ_SHARE) return "read";
      if (r < READ_SHARE + RESERVE_SHARE) return "reserve";
      return pool.length > 0 ? "cancel" : "read"; // nothing left to cancel: read instead
    };
    // The context lives from building a request to its answer (pipelining 1), so it carries the kind.
    const setupRequest = (request, context) => {
      context.kind = pickKind();
      sent[context.kind]++;
      if (context.kind === "read") {
        return { ...request, method: "GET", path: reads[random(RESOURCES)], headers: {}, body: undefined };
      }
      if (context.kind === "reserve") {
        return {
          ...request,
          method: "POST",
          path: "/reservations",
          headers: admin,
          body: reserveBodies[random(RESOURCES)],
        };
      }
      // Each id is cancelled once; a random one keeps cancels spread over the resources.
      const [id] = pool.splice(random(pool.length), 1);
      return { ...request, method: "POST", path: `/reservations/${id}/cancel`, headers: adminNoBody, body: undefined };
    };
    const onResponse = (code, body, context) => {
      const kind = context.kind;
      answered[kind]++;
      status[kind][code] = (status[kind][code] ?? 0) + 1;
      if (kind === "reserve" && code === 201) pool.push(body.match(ID_PATTERN)[1]);
      if (kind === "cancel" && code === 200) cancelled++;
      if (kind === "cancel" && code === 404 && body.includes("No such route.")) cancelRouteMissing++;
    };

    const url = `${server.base}/availability`;
    const summary = await runLoad(server, { url, requests: [{ setupRequest, onResponse }], connections, duration });
    const after = await settledTotals(server, ids);
    const { checks, info } = bookingChecks(summary, state.before, after, {
      cancelled,
      unanswered: sent.reserve - answered.reserve,
      unansweredCancels: sent.cancel - answered.cancel,
    });
    state.before = after;
    const perKind = Object.fromEntries(kinds.map((k) => [k, { sent: sent[k], status: status[k] }]));
    return [
      {
        key: "mixed",
        connections,
        summary,
        checks,
        info: { ...info, per_kind: perKind, cancel_route_missing: cancelRouteMissing },
      },
    ];
  },
};
