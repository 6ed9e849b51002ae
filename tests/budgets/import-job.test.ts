import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { importStep, startImportJob } from "../../src/jobs/import-job";
import { sendStep } from "../../src/jobs/steps";
import { Meter, metered, peaks } from "../../src/lib/budget";
import { IMPORT_HEADER } from "../../src/wire/csv-import";
import { call, uniqueId } from "../helpers";
import { count, expectAllWithinBudget, reportPeaks } from "./support";

// 520 rows: over the synchronous limit, two steps (500 lines, then 20). The 10,000-row import runs
// against a real `wrangler dev` in `npm run bench:budgets`: the test pool keeps every object it ever
// hosted alive, and each create gets slower with every object it holds (about 20 ms at first, 400 ms
// near 1,000 objects) as SQLite's process-wide memory limits near (docs/decisions.md #53).
const ROWS = 520;

function csvOf(prefix: string, rows: number): string {
  const lines = Array.from({ length: rows }, (_, i) => `${prefix}-${i},slot,${(i % 8) + 1},false,,,,600,900`);
  return `${IMPORT_HEADER.join(",")}\n${lines.join("\n")}\n`;
}

async function importCsv(csv: string, headers: Record<string, string> = {}) {
  return call("POST", "/admin/resources/import", { raw: csv, headers: { "Content-Type": "text/csv", ...headers } });
}

async function finished(jobId: string) {
  await expect
    .poll(async () => (await (await call("GET", `/admin/jobs/${jobId}`)).json<{ status: string }>()).status, {
      timeout: 120_000,
      interval: 200,
    })
    .toBe("SUCCEEDED");
  return (await call("GET", `/admin/jobs/${jobId}`)).json<Record<string, any>>();
}

afterAll(reportPeaks);

describe("an import of more than 500 rows is a job", () => {
  it("answers 202 with the job, applies it in steps within the budget, and a second import changes nothing", async () => {
    const prefix = uniqueId("season");
    const csv = csvOf(prefix, ROWS);
    peaks.clear();
    const res = await importCsv(csv);
    expect(res.status).toBe(202);
    const job = await res.json<Record<string, any>>();
    expect(res.headers.get("Location")).toBe(`/admin/jobs/${job.id}`);
    expect(job).toMatchObject({ kind: "import", status: "QUEUED", total: ROWS, processed: 0, failed: [] });

    const done = await finished(job.id);
    expect(done).toMatchObject({ status: "SUCCEEDED", total: ROWS, processed: ROWS, created: ROWS, unchanged: 0 });
    expect(done.failed_count).toBe(0);
    expect(await count("SELECT steps AS n FROM jobs WHERE id = ?", job.id)).toBeGreaterThanOrEqual(2);
    const peak = expectAllWithinBudget();
    expect(peak["queue reservation-jobs"]?.subrequests).toBeGreaterThanOrEqual(500); // a step of 500 lines
    expect(peak["fetch POST /admin/resources/import"]?.subrequests).toBeLessThan(10);
    // One audit entry for the whole job, with its counts.
    const audit = await env.DB.prepare(
      "SELECT after FROM admin_audit WHERE request_id = ? AND action = 'resource.import'",
    )
      .bind(res.headers.get("X-Request-Id"))
      .all<{ after: string }>();
    expect(audit.results.map((r) => JSON.parse(r.after))).toEqual([
      { created: ROWS, unchanged: 0, failed: 0, job_id: job.id },
    ]);

    const again = await finished((await (await importCsv(csv)).json<{ id: string }>()).id);
    expect(again).toMatchObject({ created: 0, unchanged: ROWS, failed_count: 0 });
    const listed = await (await call("GET", "/admin/jobs?kind=import&limit=1")).json<Record<string, any>>();
    expect(listed.items[0].id).toBe(again.id);
    const older = await (await call("GET", `/admin/jobs?limit=1&cursor=${listed.next_cursor}`)).json<
      Record<string, any>
    >();
    expect(older.items[0].id).toBe(job.id);
  }, 300_000);

  it("resumes a step that died part way without creating or counting anything twice", async () => {
    const prefix = uniqueId("resume");
    const lines = Array.from({ length: 120 }, (_, i) => ({
      line: i + 2,
      spec: {
        id: `${prefix}-${i}`,
        type: "slot",
        capacity: 2,
        waitingListEnabled: false,
        bookingOpensAt: null,
        bookingClosesAt: null,
        maxQuantityPerReservation: null,
        holdTtlSeconds: 600,
        waitingListOfferTtlSeconds: 900,
        metadata: {},
      },
    }));
    const by = { requestId: `resume-${prefix}`, actor: "admin", route: "POST /admin/resources/import" };
    const job = await startImportJob(env, { lines, invalid: [], total: lines.length, by }, Date.now());
    // The objects fail after 50 creates (the isolate was killed): the step throws and saves nothing.
    let creates = 0;
    const failing = new Proxy(env.RESOURCE_OBJECT, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop !== "get") return typeof value === "function" ? value.bind(target) : value;
        return (...args: unknown[]) => {
          const stub = Reflect.apply(value, target, args) as Record<string, unknown>;
          return new Proxy(stub, {
            get(s, m) {
              if (m !== "create") return Reflect.get(s, m, s);
              return (...a: unknown[]) => {
                if (++creates > 50) return Promise.reject(new Error("the object was reset (injected)"));
                return Reflect.apply(Reflect.get(s, m, s) as (...x: unknown[]) => unknown, s, a);
              };
            },
          });
        };
      },
    });
    const meter = new Meter("test import step");
    const env2 = metered({ ...env, RESOURCE_OBJECT: failing } as Env, meter);
    await expect(importStep(env2, job.id, meter, Date.now)).rejects.toThrow("injected");
    expect(await count("SELECT processed AS n FROM jobs WHERE id = ?", job.id)).toBe(0);
    expect((await call("GET", `/resources/${prefix}-0`)).status).toBe(200); // created before it died

    await sendStep(env, { kind: "import", jobId: job.id });
    const done = await finished(job.id);
    expect(done).toMatchObject({ created: 120, unchanged: 0, processed: 120, failed_count: 0 });
    const versions = await Promise.all(
      [0, 49, 50, 119].map(async (i) => (await (await call("GET", `/resources/${prefix}-${i}`)).json<any>()).version),
    );
    expect(versions).toEqual([1, 1, 1, 1]); // each created once
  }, 120_000);

  it("answers a small file at once, and `Prefer: respond-async` makes even a small one a job", async () => {
    const prefix = uniqueId("small");
    const sync = await importCsv(csvOf(prefix, 3));
    expect(sync.status).toBe(200);
    expect(await sync.json()).toEqual({ created: 3, unchanged: 0, failed: [] });
    const queued = await importCsv(csvOf(prefix, 3), { Prefer: "respond-async" });
    expect(queued.status).toBe(202);
    expect(await finished((await queued.json<{ id: string }>()).id)).toMatchObject({ created: 0, unchanged: 3 });
  });

  it("refuses a bad file with a 400 before any job starts", async () => {
    const before = await count("SELECT COUNT(*) AS n FROM jobs");
    const big = csvOf(uniqueId("huge"), 50_001);
    const cases = [
      { csv: big, issue: "too_big" },
      { csv: `id,type\nx,y\n`, issue: "invalid_header" },
      { csv: `${IMPORT_HEADER.join(",")}\n"broken,slot,1,false,,,,600,900\n`, issue: "invalid_csv" },
    ];
    for (const c of cases) {
      const res = await importCsv(c.csv, { Prefer: "respond-async" });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "VALIDATION_ERROR", details: [{ issue: c.issue }] } });
    }
    expect(await count("SELECT COUNT(*) AS n FROM jobs")).toBe(before);
    expect((await call("GET", "/admin/jobs/job_00000000000000000000000000000000")).status).toBe(404);
    expect((await call("GET", "/admin/jobs?cursor=nonsense")).status).toBe(400);
  });
});
