import { z } from "zod";
import { requireAdmin } from "../http/auth";
import { AppError } from "../http/errors";
import { RESPONSE_BODIES as B } from "../http/responses";
import { pathParam, type RouteSpec, route, routesApp, valid } from "../http/route-spec";
import { findJob, type Job, jobsPage } from "../storage/jobs";
import { iso } from "../wire/render";

/** Long work (imports) as jobs: their progress, newest first (jobs/, decision 48). */
export const jobs = routesApp();
jobs.use(requireAdmin);

const at = (r: Omit<RouteSpec, "tag" | "access">) => route("/admin/jobs", { ...r, tag: "Admin", access: "admin" });

const JobsQuery = z.strictObject({
  kind: z.enum(["import"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
});

const list = at({
  method: "get",
  path: "/",
  summary: "Jobs, newest first",
  query: JobsQuery,
  ok: { 200: { description: "A page of jobs; `next_cursor` pages back.", body: B.JobPage } },
});
jobs.openapi(list, async (c) => {
  const q = valid(c, "query", JobsQuery);
  const page = await jobsPage(c.env.DB, {
    kind: q.kind,
    before: q.cursor ? position(q.cursor) : undefined,
    limit: q.limit,
  });
  return c.json({
    items: page.items.map(jobJson),
    next_cursor: page.next ? `${page.next.createdAt}.${page.next.id}` : null,
  });
});

const one = at({
  method: "get",
  path: "/{id}",
  summary: "A job and its progress",
  ok: { 200: { description: "The job.", body: B.Job } },
  errors: ["NOT_FOUND"],
});
jobs.openapi(one, async (c) => {
  const job = await findJob(c.env.DB, pathParam(c, "id"));
  if (!job) throw new AppError("NOT_FOUND", "Job not found.");
  return c.json(jobJson(job));
});

/** A job as the API shows it. */
export function jobJson(job: Job) {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    total: job.total,
    processed: job.processed,
    created: job.created,
    unchanged: job.unchanged,
    failed_count: job.failedCount,
    failed: JSON.parse(job.failed),
    error: job.error === null ? null : JSON.parse(job.error),
    created_at: iso(job.createdAt) as string,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    updated_at: iso(job.updatedAt) as string,
  };
}

function position(cursor: string): { createdAt: number; id: string } {
  const match = /^(\d{1,15})\.(job_[0-9a-f]{32})$/.exec(cursor);
  if (!match) {
    throw new AppError("VALIDATION_ERROR", "cursor: not a cursor this API returned", [
      { field: "query.cursor", issue: "invalid_cursor" },
    ]);
  }
  return { createdAt: Number(match[1]), id: match[2] as string };
}
