import { env } from "cloudflare:workers";
import parsePrometheus from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { bulkUpsert } from "../../src/storage/bulk-upsert";
import { decisionEvents } from "../../src/storage/d1-schema";
import { call, createResource, reserve, settle } from "../helpers";

// Its own file: storage is isolated per file, so no other test's history drains into these counts.
const json = (res: Response) => res.json<Record<string, any>>();

describe("metrics and analytics", () => {
  it("counts exactly the commits, rejections and cancels made", async () => {
    const before = parsePrometheus(await (await call("GET", "/metrics")).text());
    const type = `kind-${crypto.randomUUID().slice(0, 8)}`;
    const resource = await createResource({ capacity: 3, type });
    const id = resource.id as string;
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await reserve(id, { client_id: `c${i}` })); // 3 confirmed, 2 full
    const first = await json(made[0] as Response);
    await call("POST", `/reservations/${first.id}/cancel`);
    await settle(id);

    const after = parsePrometheus(await (await call("GET", "/metrics")).text());
    const delta = (name: string, labels: Record<string, string>) =>
      value(after, name, labels) - value(before, name, labels);
    expect(delta("reservations_total", { status: "CONFIRMED" })).toBe(3);
    expect(delta("reservations_total", { status: "CANCELLED" })).toBe(1);
    expect(delta("rejections_total", { code: "RESOURCE_FULL" })).toBe(2);
    expect(value(after, "active_resources", {})).toBeGreaterThan(0);

    // One observation per client decision: the create, 5 reserves (2 refused) and the cancel.
    const durations = histogram(after);
    expect(durations.count - histogram(before).count).toBe(7);
    const cumulative = Object.entries(durations.buckets)
      .sort(([a], [b]) => Number(a) - Number(b)) // "+Inf" parses as Infinity
      .map(([, n]) => n);
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
    expect(durations.buckets["+Inf"]).toBe(durations.count);
    expect(durations.sum).toBeGreaterThanOrEqual(0);

    const report = await json(await call("GET", `/admin/analytics?type=${type}`));
    const day = report.per_day.reduce(
      (acc: any, d: any) => ({
        reservations: acc.reservations + d.reservations,
        rejections: acc.rejections + d.rejections,
        cancellations: acc.cancellations + d.cancellations,
      }),
      { reservations: 0, rejections: 0, cancellations: 0 },
    );
    expect(day).toEqual({ reservations: 3, rejections: 2, cancellations: 1 });
    expect(report.rejections_by_code).toEqual({ RESOURCE_FULL: 2 });
    expect(report.utilization_by_type).toEqual([{ type, confirmed: 2, capacity: 3, utilization: 2 / 3 }]);
  });
});

describe("metric totals", () => {
  it("count a decision once even when its row is sent to D1 again, and put a 12 s commit only under +Inf", async () => {
    const row = {
      resourceId: `metrics-${crypto.randomUUID()}`,
      seq: 7,
      serverTimestamp: Date.now(),
      type: "reservation.reserve",
      requestId: "r",
      clientId: "c",
      quantity: 1,
      outcome: "REJECTED",
      code: "TEST_ONLY",
      reason: "test",
      detail: "{}",
      versionBefore: 1,
      versionAfter: 1,
      rulesVersion: 1,
      latencyMs: 12_000,
      drainedAt: Date.now(),
    };
    const before = parsePrometheus(await (await call("GET", "/metrics")).text());
    for (let i = 0; i < 2; i++) await env.DB.batch(bulkUpsert(env.DB, decisionEvents, [row], "ON CONFLICT DO NOTHING"));
    const after = parsePrometheus(await (await call("GET", "/metrics")).text());

    expect(value(after, "rejections_total", { code: "TEST_ONLY" })).toBe(1);
    const [b, a] = [histogram(before), histogram(after)];
    expect(a.count - b.count).toBe(1);
    expect(a.buckets["10"]).toBe(b.buckets["10"]);
    expect((a.buckets["+Inf"] ?? 0) - (b.buckets["+Inf"] ?? 0)).toBe(1);
    expect(a.sum - b.sum).toBeCloseTo(12, 6);
  });
  it("show the pipeline's lags: nothing queued, the consumer's last write moments ago, the export behind", async () => {
    const id = (await createResource({ capacity: 5 })).id as string;
    await reserve(id);
    await settle(id);
    const families = parsePrometheus(await (await call("GET", "/metrics")).text());
    expect(value(families, "history_lag_seconds", {})).toBe(0);
    const lastWrite = families.find((f) => f.name === "history_last_write_age_seconds");
    expect(Number(lastWrite?.metrics[0]?.value)).toBeGreaterThanOrEqual(0);
    expect(Number(lastWrite?.metrics[0]?.value)).toBeLessThan(30);
    expect(value(families, "export_lag_seconds", {})).toBeGreaterThan(0); // nothing exported in this file yet
  });
});

function histogram(families: any[]): { buckets: Record<string, number>; count: number; sum: number } {
  const family = families.find((f) => f.name === "commit_duration_seconds");
  expect(family?.type).toBe("HISTOGRAM");
  const [metric] = family.metrics;
  const buckets = Object.fromEntries(Object.entries(metric.buckets).map(([le, n]) => [le, Number(n)]));
  return { buckets, count: Number(metric.count), sum: Number(metric.sum) };
}

function value(families: any[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  const metric = family?.metrics.find((m: any) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return metric ? Number(metric.value) : 0;
}
