// @ts-check
// sellout: 1,000 places, 100 connections, three times as many requests as
// places: exactly 1,000 must be confirmed and every other answer must be
// 409 RESOURCE_FULL.
import { createResources, settledTotals } from "../lib/api.mjs";
import { bookingChecks, reserveOne } from "../lib/bookings.mjs";
import { runLoad } from "../lib/load.mjs";

const CAPACITY = 1000;

export const sellout = {
  name: "sellout",
  async measure({ server, connections, run }) {
    const [id] = await createResources(server, [`sellout-${run}`], CAPACITY);
    let created = 0;
    let soldOutAt = null;
    let otherRefusals = 0;
    const start = Date.now();
    const onResponse = (status, body) => {
      if (status === 201 && ++created === CAPACITY) soldOutAt = Date.now() - start;
      else if (status !== 201 && JSON.parse(body)?.error?.code !== "RESOURCE_FULL") otherRefusals++;
    };
    // With `amount`, autocannon waits for every answer: nothing is cut off.
    const summary = await runLoad(server, { ...reserveOne(server, id, onResponse), connections, amount: 3 * CAPACITY });
    const after = await settledTotals(server, [id]);
    const { checks, info } = bookingChecks(summary, { confirmed: 0 }, after);
    checks.exactly_capacity_confirmed = after.confirmed === CAPACITY && created === CAPACITY;
    checks.rest_409_resource_full = otherRefusals === 0 && summary.status["409"] === summary.responses - CAPACITY;
    return [{ key: "sellout", connections, summary, checks, info: { ...info, sold_out_after_ms: soldOutAt } }];
  },
};
