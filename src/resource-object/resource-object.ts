import { DurableObject } from "cloudflare:workers";
import { config } from "../config";
import { SYSTEM_REQUEST_ID } from "../domain/ids";
import type { Replayed } from "../domain/replay";
import type { Reservation } from "../domain/reservation";
import type { ResourceState, RulesPatch } from "../domain/resource";
import { countingSql, countUsage } from "../lib/usage";
import { type OrderRpc, orderStub } from "../order-object/address";
import { type Availability, availabilityOf } from "../storage/availability-cache";
import type { HistoryMessage } from "../storage/history-writer";
import type { HoldForOrder, ItemRef, ItemReply, ReleaseForOrder } from "../wire/order-items";
import type { Reply } from "../wire/render";
import { Background } from "./background";
import type { Caller, CommandReply, CreateInput, Decided, JoinInput, ReserveInput, TimelinePage } from "./commands";
import { type DeadLetter, deadLetterNote } from "./commands";
import { Explainer, type ExplainQuery, type Explanation } from "./explainer";
import type { GroupCommit } from "./group-commit";
import { Ledger } from "./ledger";
import { askCoordinators } from "./order-asks";
import { OrderDesk } from "./order-desk";
import { OrderItemsStore } from "./order-items-store";
import { OutboxCursors } from "./outbox/cursors";
import type { Drainer } from "./outbox/drainer";
import type { OutboxBindings } from "./outbox/round";
import { PastStates, pageOfHolders } from "./past-states";
import { PastStore } from "./past-store";
import { ReservationDesk } from "./reservation-desk";
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from "./schema";
import { ResourceStore, type Sequenced } from "./store";
import { WaitingDesk } from "./waiting-desk";
import { type WaitingEntry, WaitingListStore } from "./waiting-list-store";

export { BACKSTOP_MS, DRAIN_DELAY_MS } from "./background";

/**
 * One resource's single source of truth. Every command runs to completion
 * with no `await` inside, in arrival order, inside one `transactionSync`
 * shared with the commands that arrived in the same moment (group-commit.ts):
 * commits are serialized and atomic, and a crash mid-group leaves nothing
 * half-written and nothing answered.
 *
 * Commands answer with a rendered reply (status, headers, body), because an
 * idempotent command must store its first reply in the same transaction as
 * its decision, and replay exactly those bytes.
 *
 * This class is the RPC surface. The parts it sequences, built in this
 * order: ledger.ts (the commit pipeline and the state), reservation-desk.ts
 * and waiting-desk.ts (what each command decides), past-states.ts and
 * explainer.ts (the past), and background.ts with outbox/ (what leaves the
 * object after its commits: the queues, KV, the alarm's time), which follows
 * the ledger's commits (`ledger.follow`).
 */
export class ResourceObject extends DurableObject<Env> {
  /** The one clock (epoch ms). Tests replace it to move time without sleeping. */
  clock: () => number = () => Date.now();
  /** Where the outbox goes; tests wrap them to inject faults. */
  bindings: OutboxBindings;
  /** How an undecided order item reaches its order's coordinator; tests wrap it to cut the coordinator off. */
  coordinator: (orderId: string) => Pick<OrderRpc, "outcome"> = (orderId) => orderStub(this.env, orderId);
  /** Decides the commands that arrive together in one transaction. */
  readonly groupCommit: GroupCommit<CommandReply>;

  private readonly store: ResourceStore;
  private readonly waitingList: WaitingDesk;
  private readonly ledger: Ledger;
  private readonly reservations: ReservationDesk;
  private readonly orders: OrderDesk;
  private readonly background: Background;
  private readonly past: PastStore;
  private readonly pastStates: PastStates;
  private readonly explainer: Explainer;
  /** When the outbox drains (outbox/drainer.ts, background.ts's); tests shorten its quiet time or stop its timer. */
  private readonly drainer: Drainer;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.bindings = { history: env.HISTORY_QUEUE, webhooks: env.WEBHOOK_QUEUE, kv: env.AVAILABILITY };
    const sql = countingSql(ctx.storage.sql);
    this.store = new ResourceStore(sql);
    const resourceId = () => this.ledger.current?.state.id ?? "";
    this.waitingList = new WaitingDesk(new WaitingListStore(sql, resourceId));
    const orderItems = new OrderItemsStore(sql);
    this.ledger = new Ledger(ctx.storage, this.store, this.waitingList, orderItems, () => this.clock());
    this.groupCommit = this.ledger.groupCommit;
    this.orders = new OrderDesk(this.store, orderItems, this.waitingList, this.ledger);
    this.reservations = new ReservationDesk(this.store, this.waitingList, this.ledger, this.orders);
    this.past = new PastStore(sql);
    this.pastStates = new PastStates(this.store, this.past, resourceId, (fn) => ctx.storage.transactionSync(fn));
    this.explainer = new Explainer(this.store, this.past, this.pastStates, resourceId);
    this.background = new Background({
      storage: ctx.storage,
      ledger: this.ledger,
      waitingList: this.waitingList,
      store: this.store,
      cursors: new OutboxCursors(sql),
      past: this.past,
      pastStates: this.pastStates,
      io: () => ({ env: this.env, bindings: this.bindings, clock: this.clock }),
    });
    this.ledger.follow(this.background);
    this.drainer = this.background.drainer;
    ctx.blockConcurrencyWhile(async () => {
      // An object that never stored anything stays empty: probing an unknown
      // id must not leave a database behind. `create` applies the schema.
      const version = schemaVersion(ctx.storage.sql);
      if (version === 0) return;
      // Objects wake often (an idle one is evicted after seconds): an up-to-date schema costs no transaction.
      if (version < LATEST_SCHEMA_VERSION) ctx.storage.transactionSync(() => migrate(ctx.storage.sql));
      this.ledger.load();
      await this.background.wake();
    });
  }

  // ---- commands ----------------------------------------------------------

  create(input: CreateInput): Promise<CommandReply> {
    // The schema must exist before the idempotency record can be looked up.
    // No await separates this from the command, so nothing can run between.
    if (!this.ledger.current) this.ctx.storage.transactionSync(() => migrate(this.ctx.storage.sql));
    const create = (working: Sequenced | null) => {
      const result = this.reservations.create(working, input, this.clock());
      if ("entry" in result) this.background.created();
      return result;
    };
    return this.ledger.commit(input, create, { needsResource: false });
  }

  reserve(input: ReserveInput): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.reserve(current, input, now));
  }

  confirm(input: Caller & { reservationId: string }): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.act("confirm", current, input, now));
  }

  cancel(input: Caller & { reservationId: string }): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.act("cancel", current, input, now));
  }

  checkIn(input: Caller & { reservationId: string }): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.act("check_in", current, input, now));
  }

  /** PATCH: changes rules and metadata. `ifMatch` is the version the caller saw (412 when stale). */
  update(input: Caller & { patch: RulesPatch; ifMatch?: number }): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.update(current, input, now));
  }

  close(input: Caller): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.close(current, input, now));
  }

  reopen(input: Caller): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.reservations.reopen(current, input, now));
  }

  /** Joins the waiting list; the same client joining again gets its entry back (200). */
  join(input: JoinInput): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.waitingList.join(current, input, now));
  }

  leave(input: Caller & { entryId: string }): Promise<CommandReply> {
    return this.decide(input, (current, now) => this.waitingList.leave(current, input, now));
  }

  // ---- an order's items (order-desk.ts; the coordinator is order-object/) ----

  holdForOrder(input: HoldForOrder): Promise<ItemReply> {
    return this.itemCall(input, (current, now) => this.orders.hold(current, input, now));
  }

  confirmForOrder(input: ItemRef): Promise<ItemReply> {
    return this.itemCall(input, (current, now) => this.orders.confirm(current, input, now));
  }

  releaseForOrder(input: ReleaseForOrder): Promise<ItemReply> {
    return this.itemCall(input, (current, now) => this.orders.release(current, input, now));
  }

  lockForOrder(input: ItemRef): Promise<ItemReply> {
    return this.itemCall(input, () => this.orders.lock(input));
  }

  unlockForOrder(input: ItemRef): Promise<ItemReply> {
    return this.itemCall(input, () => this.orders.unlock(input));
  }

  // ---- reads -------------------------------------------------------------

  /** Answers without touching storage: a liveness probe and the benchmarks' RPC floor. */
  ping(): { ok: true } {
    return { ok: true };
  }

  get(): { state: ResourceState; waitingListLength: number } | null {
    this.ledger.processDue();
    const current = this.ledger.current;
    return current ? { state: current.state, waitingListLength: this.waitingList.length } : null;
  }

  /** The current availability snapshot. */
  availability(): Availability | null {
    this.ledger.processDue();
    const current = this.ledger.current;
    return current ? availabilityOf(current.state, this.clock()) : null;
  }

  /**
   * The availability snapshot for a read that missed KV. Only the object
   * writes KV, so a late write can never replace a newer snapshot: this one
   * fills it (through the drain, at most once a second), and the resource
   * counts as read for a TTL, during which its commits refresh KV too.
   * Nobody reading, no KV writes. An unknown id is remembered as missing.
   */
  availabilityForCache(resourceId: string): Availability | null {
    const settings = config(this.env);
    if (!this.ledger.current) {
      this.background.rememberMissing(resourceId);
      return null;
    }
    const snapshot = this.availability() as Availability;
    this.background.readMissedKv(settings.AVAILABILITY_TTL_SECONDS);
    // The Worker keeps it in memory for a moment: some readers see this one until KV has the next.
    const { version, state, remaining } = snapshot;
    const asOf = Date.parse(snapshot.as_of);
    const cachedUntil = asOf + settings.AVAILABILITY_ISOLATE_CACHE_MS;
    this.past.noteView({ asOf, cachedUntil, version, state, remaining });
    return snapshot;
  }

  getReservation(id: string): Reservation | null {
    this.ledger.processDue();
    const current = this.ledger.current;
    return current ? this.store.getReservation(id, current.state.id) : null;
  }

  getWaitingEntry(id: string): WaitingEntry | null {
    this.ledger.processDue();
    return this.ledger.current ? this.waitingList.entry(id) : null;
  }

  timeline(query: { afterSeq: number; limit: number }): TimelinePage | null {
    return this.ledger.timeline(query);
  }

  /**
   * The resource as it stood right after decision `seq` (now, when null),
   * replayed from its timeline, with a page of the reservations holding
   * places then; `replayed` is null when `seq` is beyond the last decision.
   * Null for an unknown resource.
   */
  async stateAt(query: { seq: number | null; offset: number; limit: number }): Promise<{
    lastSeq: number;
    replayed: Replayed | null;
    holdersTotal: number;
  } | null> {
    if (query.seq === null) this.ledger.processDue(); // now, by server time: lapsed holds expire first
    const current = this.ledger.current;
    if (!current) return null;
    const target = query.seq ?? current.lastSeq;
    if (target > current.lastSeq) return { lastSeq: current.lastSeq, replayed: null, holdersTotal: 0 };
    const replayed = await this.pastStates.at(target);
    return { lastSeq: current.lastSeq, ...pageOfHolders(replayed, query.offset, query.limit) };
  }

  /**
   * Why a decision (by seq or request id) or a reservation ended as it did
   * (explainer.ts): `explanation` is null for an unknown decision or
   * reservation; the answer is null for an unknown resource. A reservation is
   * read by server time, like GET /reservations/{id}: a lapsed hold expires first.
   */
  async explain(query: ExplainQuery): Promise<{ explanation: Explanation | null } | null> {
    if ("reservationId" in query) this.ledger.processDue();
    if (!this.ledger.current) return null;
    return { explanation: await this.explainer.explain(query) };
  }

  /** How many timeline entries have not left for the history queue yet. */
  outboxBacklog(): number {
    return this.background.backlog();
  }

  /** The last decision sent to the history queue. */
  sentSeq(): number {
    return this.background.sentSeq();
  }

  /** True when every decision went to the history and webhook queues, and KV (if read) has the latest snapshot. */
  outboxCaughtUp(): boolean {
    return this.background.caughtUp();
  }

  /** For the reconciler: decisions that already left the object, as history messages (background.ts). */
  historyAfter(query: { afterSeq: number; upToSeq: number | null; minAgeMs: number }): HistoryMessage[] {
    return this.background.historyAfter(query);
  }

  /**
   * Records that a webhook was given up on (by the webhook consumer), in the
   * timeline and so in the history; once per event and target, however often
   * the consumer's message is delivered. `attempts` is null when unknown (a
   * message its consumer kept failing on).
   */
  recordDeadLetter(d: DeadLetter): void {
    if (this.ledger.current) this.ledger.recordNote(...deadLetterNote(d));
  }

  // ---- background work -----------------------------------------------------

  /**
   * The durable wake-up: expires due holds, notifies the waiting list and
   * drains whatever a timer did not (after an eviction or a failure). Alarms
   * may fire more than once: every step is idempotent.
   */
  override async alarm(): Promise<void> {
    countUsage("doRequests");
    this.background.alarmFired();
    if (!this.ledger.current) return;
    this.ledger.processDue(true);
    await this.askOrders();
    await this.background.drainInAlarm();
  }

  /** Undecided order items past their deadline ask their coordinators and do as told (order-asks.ts). */
  private askOrders(): Promise<void> {
    return askCoordinators({
      orders: this.orders,
      now: this.clock(),
      coordinator: this.coordinator,
      confirm: (ref) => this.confirmForOrder(ref),
      release: (ref) => this.releaseForOrder(ref),
      decide: (run) => this.decide({ requestId: SYSTEM_REQUEST_ID }, run),
      resourceId: this.ledger.current?.state.id,
    });
  }

  /** An order item's call, answered as plain data (wire/order-items.ts). */
  private async itemCall(ref: ItemRef, run: (current: Sequenced, now: number) => Decided | Reply): Promise<ItemReply> {
    const reply = await this.decide({ requestId: ref.requestId }, run);
    if (reply.status === 404) return { ok: false, code: "NOT_FOUND", reason: "no such resource", seq: null };
    return JSON.parse(reply.body) as ItemReply;
  }

  /** Queues a command decided at the server time of the state it meets (ledger.ts). */
  private decide(caller: Caller, run: (current: Sequenced, now: number) => Decided | Reply): Promise<CommandReply> {
    return this.ledger.commit(caller, (current) => run(current, this.ledger.serverTime(current)));
  }
}
