import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createResource, objectOf, reserve } from "../helpers";

const HOLDS = 1_500;

const json = (res: Response) => res.json<Record<string, any>>();

describe("a wave of holds expiring at the same instant", () => {
  it("is seen whole by the next decision: the places are free by server time and the held count is exact", async () => {
    const resource = await createResource({ capacity: HOLDS, hold_ttl_seconds: 60 });
    const id = resource.id as string;
    const object = objectOf(id);
    const T0 = Date.now() + 3_600_000; // ahead of the creation's timestamp: server time never runs backwards
    // Every hold is taken at the same server time, so all of them lapse at the same instant.
    await runInDurableObject(object, async (o) => {
      o.clock = () => T0;
      const replies = await Promise.all(
        Array.from({ length: HOLDS }, (_, i) =>
          o.reserve({ requestId: `wave-${i}`, clientId: `c-${i}`, quantity: 1, hold: true, metadata: {} }),
        ),
      );
      expect(replies.every((r) => r.status === 201)).toBe(true);
    });
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({ held: HOLDS, remaining: 0 });

    await runInDurableObject(object, (o) => {
      o.clock = () => T0 + 60_000; // the instant every hold expires
    });
    // A read right after the instant counts every hold as expired, not just a first batch.
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({ held: 0, remaining: HOLDS });

    // A second wave, and this time no read comes first: the decision itself must see every expired hold.
    await runInDurableObject(object, (o) => {
      o.clock = () => T0 + 120_000;
    });
    const again = await runInDurableObject(object, async (o) => {
      const replies = await Promise.all(
        Array.from({ length: HOLDS }, (_, i) =>
          o.reserve({ requestId: `second-${i}`, clientId: `d-${i}`, quantity: 1, hold: true, metadata: {} }),
        ),
      );
      return replies.every((r) => r.status === 201);
    });
    expect(again).toBe(true);
    await runInDurableObject(object, (o) => {
      o.clock = () => T0 + 180_000;
    });
    const all = await reserve(id, { client_id: "everything", quantity: HOLDS });
    expect(all.status).toBe(201);
    expect(await json(await call("GET", `/resources/${id}`))).toMatchObject({
      held: 0,
      confirmed: HOLDS,
      remaining: 0,
    });
  }, 120_000);
});
