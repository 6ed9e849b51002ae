/**
 * The reconciler: nothing decided is lost, even where the history queue is
 * not durable (local Miniflare keeps queued messages in memory) or a batch
 * was dead-lettered. A run is started by the cron or by
 * POST /admin/reconciliation and proceeds in steps (jobs/steps.ts), each
 * within one invocation's budget (lib/budget.ts), resumed from the cursor
 * saved in its `reconciliation_runs` row; a run whose steps stopped is
 * resumed by the next cron. Its phases:
 *
 * 1. `dead_letters`: resources whose history messages were dead-lettered.
 * 2. `gaps`: resources whose history in D1 has a hole (`history_shape`'s
 *    partial index: no query reads the history itself to find them).
 * 3. `tails`: a lost tail (the last decisions) is invisible from D1, so the
 *    resources active since the previous scheduled run are asked for what
 *    they sent after D1's last seq.
 * 4. `registry`: REGISTRY_PER_RUN more ids from the registry, in a round
 *    that goes on run after run, for resources in no recent window.
 *
 * (`listed`: exactly the resources an operator named, instead of 1–4.)
 * Each gap is re-sent from the object's timeline and written like any
 * history batch (idempotent upserts); only decisions that were really
 * missing count as repaired (`history_gaps_repaired_total`).
 */
import type { Meter } from "../lib/budget";
import type { ResourceRpc } from "../resource-object/address";
import { addToCounters } from "../storage/counters";
import { type HistoryMessage, writeHistory } from "../storage/history-writer";
import {
  activeSince,
  type Gap,
  gappyResources,
  gapsOf,
  insertRun,
  latestRun,
  markDeadLettersReconciled,
  openHistoryDeadLetters,
  type ReconciliationRun,
  registryPage,
  type Shape,
  saveRunStep,
  shapesOf,
} from "../storage/reconciliation";

/** Registry ids asked about per run; the round goes on in the next run. */
const REGISTRY_PER_RUN = 1000;
/** Resources read per page of a phase. */
const PAGE = 20;
/** A decision sent this recently may still be in the queue: not counted as lost yet. */
const DEFAULT_MIN_AGE_MS = 60_000;
/** Without an earlier scheduled run, tails are checked over this window. */
const FIRST_RUN_WINDOW_MS = 24 * 3600_000;
/** Disagreements kept in a run's record. */
const DISAGREEMENTS_KEPT = 100;
/** The most one unit of work (a page read, or one object answer and its write) takes, and what a step keeps for saving. */
const UNIT = { d1: 6, subrequests: 3 };
const SAVE = { d1: 3, subrequests: 3 };
/** Objects asked at once: a page of them, concurrently, rather than one round trip after another. */
const ASK_AT_ONCE = 20;

export interface ReconcileDeps {
  db: D1Database;
  object: (resourceId: string) => Pick<ResourceRpc, "historyAfter">;
  now: () => number;
  meter: Meter;
}

type Phase = "listed" | "dead_letters" | "gaps" | "tails" | "registry" | "done";
const NEXT_PHASE: Record<Phase, Phase> = {
  listed: "done",
  dead_letters: "gaps",
  gaps: "tails",
  tails: "registry",
  registry: "done",
  done: "done",
};

/** What to check of one resource: its gaps, its tail, or both. */
interface Item extends Shape {
  check: "gaps" | "tail" | "both";
}

/** A range still to re-send: after `from`, up to `to` (null: the tail); `start` is where it began. */
interface Pending {
  resourceId: string;
  d1LastSeq: number;
  from: number;
  to: number | null;
  start: number;
  repaired: number;
}

/** Where a run is, saved after every step. */
interface Cursor {
  /** Ids an operator named and not yet read (phase `listed`). */
  ids?: string[];
  /** The phase's position: an id, a dead letter's id, or (tails) a time and an id. */
  after?: string;
  afterId?: number;
  afterAt?: number;
  /** Registry ids read this run. */
  registryRead?: number;
  items: Item[];
  pending: Pending[];
  /** Dead letters of the page being checked (settled when the next page is read). */
  deadLetters?: { id: number; resourceId: string }[];
}

interface Disagreement {
  resource_id: string;
  d1_last_seq: number;
  /** Each gap found, with how many of its decisions were really missing and are now written. */
  missing: (Gap & { repaired: number })[];
  /** Set when the object could not be asked (it is checked again by the next run). */
  error?: string;
}

export interface StartOptions {
  trigger: "scheduled" | "api";
  /** Check exactly these resources (gaps and tail); otherwise every phase. */
  resourceIds?: string[];
  minAgeMs?: number;
}

/** Records a new run; its steps do the work. */
export async function startReconciliation(db: D1Database, now: number, o: StartOptions): Promise<ReconciliationRun> {
  const previous = await latestRun(db, "scheduled");
  const cursor: Cursor = { items: [], pending: [], ...(o.resourceIds ? { ids: o.resourceIds } : {}) };
  return insertRun(db, {
    trigger: o.trigger,
    startedAt: now,
    updatedAt: now,
    status: "running",
    watermark: 0, // unused since runs go in steps (decision 49); the column stays for older rows
    phase: o.resourceIds ? "listed" : "dead_letters",
    cursor: JSON.stringify(cursor),
    since: (previous?.startedAt ?? now - FIRST_RUN_WINDOW_MS) - 60_000,
    minAgeMs: o.minAgeMs ?? DEFAULT_MIN_AGE_MS,
    registryCursor: previous?.registryCursor ?? null,
  });
}

/**
 * One step of `run`: as much work as this invocation's budget allows, then the
 * progress saved. Returns the run as saved, or null when another step saved
 * first (the run is that step's to go on with).
 */
export async function reconcileStep(deps: ReconcileDeps, run: ReconciliationRun): Promise<ReconciliationRun | null> {
  const state = {
    phase: run.phase as Phase,
    cursor: JSON.parse(run.cursor) as Cursor,
    disagreements: JSON.parse(run.disagreements) as Disagreement[],
    registryCursor: run.registryCursor,
    checked: 0,
    gapsFound: 0,
    gapsRepaired: 0,
    decisionsRepaired: 0,
  };
  const room = () => deps.meter.room(UNIT.d1 + SAVE.d1, UNIT.subrequests + SAVE.subrequests);
  const finish = (p: Pending) => {
    if (p.repaired === 0) return; // only what D1 really lacked is a gap: a slow queue may have delivered it
    disagreement(state.disagreements, p).missing.push({ from: p.start, to: p.to ?? p.from, repaired: p.repaired });
    state.gapsFound += 1;
    state.gapsRepaired += 1;
    state.decisionsRepaired += p.repaired;
  };
  while (state.phase !== "done" && room()) {
    const c = state.cursor;
    if (c.pending.length > 0) {
      // The objects are asked together (ASK_AT_ONCE); what they answer is written one by one, while it fits.
      const asking = Math.min(ASK_AT_ONCE, deps.meter.left().subrequests - SAVE.subrequests);
      const asked = c.pending.splice(0, asking);
      const answers = await Promise.all(asked.map((p) => ask(deps, run, p)));
      const again: Pending[] = [];
      for (const [i, p] of asked.entries()) {
        const answer = answers[i] as HistoryMessage[] | Error;
        if (answer instanceof Error) {
          // One object that cannot answer (overloaded, restarting) must not stop the others' repairs.
          disagreement(state.disagreements, p).error = String(answer);
          continue;
        }
        const last = answer.flatMap((m) => m.decisions.map((d) => d.seq)).reduce((a, b) => Math.max(a, b), p.from);
        if (last === p.from) finish(p);
        else if (!deps.meter.room(UNIT.d1 + SAVE.d1, SAVE.subrequests))
          again.push(p); // asked again next step
        else {
          // A failing write fails the step, which is retried from what the last step saved.
          p.repaired += await writeHistory(deps.db, answer, deps.now());
          p.from = last;
          if (p.to === null || p.from < p.to) again.push(p);
          else finish(p);
        }
      }
      c.pending.unshift(...again);
      continue;
    }
    const item = c.items.shift();
    if (item) {
      state.checked += 1;
      c.pending.push(...(await rangesOf(deps.db, item)));
      continue;
    }
    await nextPage(deps, run, state);
  }
  const done = state.phase === "done";
  const change: Partial<ReconciliationRun> = {
    phase: state.phase,
    cursor: JSON.stringify(state.cursor),
    registryCursor: state.registryCursor,
    resourcesChecked: run.resourcesChecked + state.checked,
    gapsFound: run.gapsFound + state.gapsFound,
    gapsRepaired: run.gapsRepaired + state.gapsRepaired,
    decisionsRepaired: run.decisionsRepaired + state.decisionsRepaired,
    disagreements: JSON.stringify(state.disagreements.slice(0, DISAGREEMENTS_KEPT)),
    updatedAt: deps.now(),
    ...(done ? { status: "completed" as const, finishedAt: deps.now() } : {}),
  };
  if (!(await saveRunStep(deps.db, run, change))) return null;
  await addToCounters(deps.db, "history_gaps_repaired_total", { "": state.gapsRepaired });
  return { ...run, ...change, steps: run.steps + 1 } as ReconciliationRun;
}

/** Marks a run that can go no further (its step failed on every attempt) as failed. */
export async function failRun(deps: Pick<ReconcileDeps, "db" | "now">, run: ReconciliationRun, error: string) {
  await saveRunStep(deps.db, run, { status: "failed", finishedAt: deps.now(), updatedAt: deps.now(), error });
}

/** What to re-send of one resource: its gaps (one query), its tail, or both. */
async function rangesOf(db: D1Database, item: Item): Promise<Pending[]> {
  const base = { resourceId: item.resourceId, d1LastSeq: item.lastSeq, repaired: 0 };
  const ranges: Pending[] = [];
  if (item.check !== "tail" && item.rows < item.lastSeq) {
    for (const gap of await gapsOf(db, item)) ranges.push({ ...base, from: gap.from - 1, to: gap.to, start: gap.from });
  }
  if (item.check !== "gaps") ranges.push({ ...base, from: item.lastSeq, to: null, start: item.lastSeq + 1 });
  return ranges;
}

/** The object's next answer for `p` (at most 1,000 decisions it sent after `p.from`), or why it gave none. */
async function ask(deps: ReconcileDeps, run: ReconciliationRun, p: Pending): Promise<HistoryMessage[] | Error> {
  try {
    return await deps.object(p.resourceId).historyAfter({ afterSeq: p.from, upToSeq: p.to, minAgeMs: run.minAgeMs });
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function disagreement(found: Disagreement[], p: Pending): Disagreement {
  let d = found.find((x) => x.resource_id === p.resourceId);
  if (!d) {
    d = { resource_id: p.resourceId, d1_last_seq: p.d1LastSeq, missing: [] };
    found.push(d);
  }
  return d;
}

/** Reads the next page of the current phase into `items`, or moves to the next phase. */
async function nextPage(
  deps: ReconcileDeps,
  run: ReconciliationRun,
  state: { phase: Phase; cursor: Cursor; registryCursor: string | null; disagreements: Disagreement[] },
): Promise<void> {
  const { db } = deps;
  const c = state.cursor;
  let items: Item[] = [];
  if (state.phase === "listed") {
    const ids = c.ids ?? [];
    items = (await shapesOf(db, ids.slice(0, PAGE))).map((s) => ({ ...s, check: "both" as const }));
    c.ids = ids.slice(PAGE);
  } else if (state.phase === "dead_letters") {
    await settleDeadLetters(deps, state.cursor, state.disagreements);
    const page = await openHistoryDeadLetters(db, c.afterId ?? 0, PAGE);
    items = page.map((d) => ({ ...d, check: "both" as const }));
    c.deadLetters = page.map((d) => ({ id: d.id, resourceId: d.resourceId }));
    c.afterId = page.at(-1)?.id ?? c.afterId;
  } else if (state.phase === "gaps") {
    items = (await gappyResources(db, c.after ?? "", PAGE)).map((s) => ({ ...s, check: "gaps" as const }));
    c.after = items.at(-1)?.resourceId ?? c.after;
  } else if (state.phase === "tails") {
    const page = await activeSince(db, run.since, { at: c.afterAt ?? 0, id: c.after ?? "" }, PAGE);
    items = page.map((s) => ({ ...s, check: "tail" as const }));
    const last = page.at(-1);
    if (last) [c.afterAt, c.after] = [last.lastAt, last.resourceId];
  } else if (state.phase === "registry") {
    const want = Math.min(PAGE, REGISTRY_PER_RUN - (c.registryRead ?? 0));
    const page = want > 0 ? await registryPage(db, state.registryCursor ?? "", want) : [];
    items = page.map((s) => ({ ...s, check: "tail" as const }));
    // At the end of the registry the round starts again from the first id, in the next run.
    const end = page.length < want;
    c.registryRead = end ? REGISTRY_PER_RUN : (c.registryRead ?? 0) + page.length;
    state.registryCursor = end ? null : (page.at(-1)?.resourceId ?? null);
  }
  c.items = items;
  if (items.length === 0) {
    state.phase = NEXT_PHASE[state.phase];
    [c.after, c.afterAt, c.afterId] = [undefined, undefined, undefined];
  }
}

/**
 * The dead letters of the page just checked are settled, unless their resource could not be asked
 * (then the next run sees them again).
 */
async function settleDeadLetters(deps: ReconcileDeps, c: Cursor, found: Disagreement[]): Promise<void> {
  const failed = new Set(found.filter((d) => d.error).map((d) => d.resource_id));
  const settled = (c.deadLetters ?? []).filter((d) => !failed.has(d.resourceId)).map((d) => d.id);
  await markDeadLettersReconciled(deps.db, settled, deps.now());
  c.deadLetters = [];
}
