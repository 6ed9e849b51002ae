import { describe, expect, it } from "vitest";
import { call, createResource, reserve } from "../helpers";

/** Fires all requests at once and waits for every answer. */
async function burst(n: number, make: (i: number) => Promise<Response>) {
  const responses = await Promise.all(Array.from({ length: n }, (_, i) => make(i)));
  return Promise.all(
    responses.map(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, any> })),
  );
}

describe("simultaneous reservations", () => {
  it("gives the last place to exactly one of 100 simultaneous requests, 20 times over", async () => {
    for (let round = 0; round < 20; round++) {
      const resource = await createResource({ capacity: 1 });
      const results = await burst(100, (i) => reserve(resource.id as string, { client_id: `c-${i}` }));

      const winners = results.filter((r) => r.status === 201);
      const refused = results.filter((r) => r.status === 409);
      expect(winners).toHaveLength(1);
      expect(winners[0]?.body.status).toBe("CONFIRMED");
      expect(refused).toHaveLength(99);
      for (const r of refused) {
        expect(r.body).toMatchObject({ status: "REJECTED", error: { code: "RESOURCE_FULL" } });
      }
      const state = await (await call("GET", `/resources/${resource.id}`)).json<Record<string, number>>();
      expect(state).toMatchObject({ confirmed: 1, held: 0, remaining: 0 });
    }
  });

  it("sums confirmed quantities to exactly the capacity under 200 mixed-size requests", async () => {
    const resource = await createResource({ capacity: 10 });
    const results = await burst(200, (i) =>
      reserve(resource.id as string, { client_id: `c-${i}`, quantity: (i % 3) + 1 }),
    );

    const confirmed = results.filter((r) => r.status === 201).reduce((sum, r) => sum + (r.body.quantity as number), 0);
    expect(confirmed).toBe(10);
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const seqs = results.filter((r) => r.status === 201).map((r) => r.body.server_seq as number);
    expect(new Set(seqs).size).toBe(seqs.length);

    const state = await (await call("GET", `/resources/${resource.id}`)).json<Record<string, number>>();
    expect(state).toMatchObject({ confirmed: 10, remaining: 0 });
  });
});
