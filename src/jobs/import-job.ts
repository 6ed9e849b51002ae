/**
 * CSV imports as jobs: the validated lines are kept in R2 (chunks of 1,000),
 * and each step on the jobs queue creates as many of them as one
 * invocation's budget allows (one object call per line), then saves its
 * progress. Every create of a job carries the job's idempotency key, so a
 * step that is repeated after a crash is answered what it was answered the
 * first time ("created", replayed by the object): a resumed import never
 * counts or creates twice. Small files use `applyLines` directly
 * (routes/import.ts).
 */
import type { ResourceSpec } from "../domain/resource";
import type { Meter } from "../lib/budget";
import { inPool } from "../lib/pool";
import { type ResourceRpc, resourceStub } from "../resource-object/address";
import { type AuditBy, auditIfChanged } from "../storage/audit";
import { FAILED_KEPT, findJob, insertJob, type Job, saveStep } from "../storage/jobs";

/** One valid line of a file: its number (1 = the header) and the resource it describes. */
export interface ImportLine {
  line: number;
  spec: ResourceSpec;
}

export interface LineError {
  line: number;
  error: { code: string; message: string; details?: unknown };
}

export interface ImportCounts {
  created: number;
  unchanged: number;
  failed: LineError[];
}

const CHUNK_LINES = 1000;
/** Creates in flight at once: enough to overlap round trips without flooding the objects. */
const CONCURRENCY = 32;
/** What a step keeps for reading its chunk and saving: D1 queries and subrequests. */
const SAVE = { d1: 4, subrequests: 6 };
/**
 * Lines per step, under the ~960 object calls a step's budget allows: progress is saved (and shown by
 * GET /admin/jobs/{id}) every few seconds, and a step that dies redoes little.
 */
const LINES_PER_STEP = 500;

interface ImportCursor {
  chunks: number;
  chunk: number;
  offset: number;
}

/** Creates `lines` through their objects (one call each), `CONCURRENCY` at a time. */
export async function applyLines(
  objects: (id: string) => Pick<ResourceRpc, "create">,
  lines: ImportLine[],
  by: AuditBy,
  jobId?: string,
): Promise<ImportCounts> {
  const counts: ImportCounts = { created: 0, unchanged: 0, failed: [] };
  await inPool(lines, CONCURRENCY, async ({ line, spec }) => {
    const reply = await objects(spec.id).create({
      spec,
      ...by,
      ifExists: "compare",
      ...(jobId ? { idempotency: { key: `import:${jobId}`, fingerprint: "import" } } : {}),
    });
    if (reply.status === 201) counts.created++;
    else if (reply.status === 200) counts.unchanged++;
    else counts.failed.push({ line, error: JSON.parse(reply.body).error });
  });
  counts.failed.sort(byLine);
  return counts;
}

/** Records a job for `lines` (their chunks in R2), lines that failed validation already reported. */
export async function startImportJob(
  env: Env,
  input: { lines: ImportLine[]; invalid: LineError[]; total: number; by: AuditBy },
  now: number,
): Promise<Job> {
  const id = `job_${crypto.randomUUID().replaceAll("-", "")}`;
  const chunks = Math.ceil(input.lines.length / CHUNK_LINES);
  for (let n = 0; n < chunks; n++) {
    const part = input.lines.slice(n * CHUNK_LINES, (n + 1) * CHUNK_LINES);
    await env.EXPORTS.put(chunkKey(id, n), JSON.stringify(part), { httpMetadata: { contentType: "application/json" } });
  }
  const job: Job = {
    id,
    kind: "import",
    status: "QUEUED",
    total: input.total,
    processed: input.invalid.length,
    created: 0,
    unchanged: 0,
    failedCount: input.invalid.length,
    failed: JSON.stringify(input.invalid.slice(0, FAILED_KEPT)),
    cursor: JSON.stringify({ chunks, chunk: 0, offset: 0 } satisfies ImportCursor),
    steps: 0,
    error: null,
    requestId: input.by.requestId,
    actor: input.by.actor,
    route: input.by.route,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    updatedAt: now,
  };
  await insertJob(env.DB, job);
  return job;
}

/**
 * One step of an import job: as many lines as the budget allows, then the progress saved (and, when
 * the last line is done, the job's audit entry, in the same D1 batch). Returns whether there is more.
 */
export async function importStep(env: Env, jobId: string, meter: Meter, now: () => number): Promise<boolean> {
  const job = await findJob(env.DB, jobId);
  if (!job || job.status === "SUCCEEDED" || job.status === "FAILED") return false;
  const cursor = JSON.parse(job.cursor) as ImportCursor;
  const by = { requestId: job.requestId, actor: job.actor, route: job.route };
  const total: ImportCounts = { created: 0, unchanged: 0, failed: [] };
  let processed = 0;
  const room = (lines: number) => processed < LINES_PER_STEP && meter.room(SAVE.d1, lines + SAVE.subrequests);
  while (cursor.chunk < cursor.chunks && room(CONCURRENCY)) {
    const lines = await readChunk(env.EXPORTS, job.id, cursor.chunk);
    while (cursor.offset < lines.length && room(CONCURRENCY)) {
      const slice = lines.slice(cursor.offset, cursor.offset + CONCURRENCY);
      const counts = await applyLines((id) => resourceStub(env, id), slice, by, job.id);
      total.created += counts.created;
      total.unchanged += counts.unchanged;
      total.failed.push(...counts.failed);
      cursor.offset += slice.length;
      processed += slice.length;
    }
    if (cursor.offset >= lines.length) [cursor.chunk, cursor.offset] = [cursor.chunk + 1, 0];
  }
  const done = cursor.chunk >= cursor.chunks;
  const failed = [...(JSON.parse(job.failed) as LineError[]), ...total.failed].sort(byLine).slice(0, FAILED_KEPT);
  const progress = {
    status: done ? ("SUCCEEDED" as const) : ("RUNNING" as const),
    processed: job.processed + processed,
    created: job.created + total.created,
    unchanged: job.unchanged + total.unchanged,
    failedCount: job.failedCount + total.failed.length,
    failed: JSON.stringify(failed),
    cursor: JSON.stringify(cursor),
    startedAt: job.startedAt ?? now(),
    updatedAt: now(),
    finishedAt: done ? now() : null,
  };
  const audit = done ? [auditOf(env.DB, { ...job, ...progress }, by, now())] : [];
  if (!(await saveStep(env.DB, job, progress, audit))) return false; // another step saved first: it goes on
  if (done) await env.EXPORTS.delete(Array.from({ length: cursor.chunks }, (_, n) => chunkKey(job.id, n)));
  return !done;
}

/** Ends a job whose step failed on every attempt: FAILED with the error, what was done still counted. */
export async function failImportJob(env: Env, jobId: string, error: string, now: number): Promise<void> {
  const job = await findJob(env.DB, jobId);
  if (!job || job.status === "SUCCEEDED" || job.status === "FAILED") return;
  const body = { code: "INTERNAL", message: `the import stopped: ${error}` };
  await saveStep(env.DB, job, { status: "FAILED", error: JSON.stringify(body), finishedAt: now, updatedAt: now });
}

/** The job's one audit entry (written only if the step that finished the job is the one saved). */
function auditOf(db: D1Database, job: Job, by: AuditBy, now: number): D1PreparedStatement {
  const counts = { created: job.created, unchanged: job.unchanged, failed: job.failedCount };
  const reason = `imported ${counts.created} created, ${counts.unchanged} unchanged, ${counts.failed} failed (${job.id})`;
  return auditIfChanged(
    db,
    by,
    { action: "resource.import", reason, before: null, after: { ...counts, job_id: job.id } },
    now,
  );
}

function chunkKey(jobId: string, n: number): string {
  return `jobs/${jobId}/${n}.json`;
}

async function readChunk(bucket: R2Bucket, jobId: string, n: number): Promise<ImportLine[]> {
  const object = await bucket.get(chunkKey(jobId, n));
  if (!object) throw new Error(`import ${jobId}: chunk ${n} is missing from R2`);
  return object.json<ImportLine[]>();
}

function byLine(a: LineError, b: LineError): number {
  return a.line - b.line;
}
