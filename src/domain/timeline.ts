/**
 * A resource's timeline: every decision, in `server_seq` order, as plain
 * data. The resource's object records it (resource-object/store.ts) and
 * sends it to the history queue; operators read it (wire/past.ts).
 */
import type { Json } from "./json";

/** One decision in the operator timeline. */
export interface TimelineEntry {
  seq: number;
  serverTimestamp: number;
  type: string;
  requestId: string;
  clientId: string | null;
  quantity: number | null;
  outcome: "ACCEPTED" | "REJECTED";
  code: string | null;
  reason: string;
  detail: Record<string, Json>;
  versionBefore: number;
  versionAfter: number;
  rulesVersion: number;
  /** Request received → decided, in ms, for decisions a client asked for; null for the engine's own. */
  latencyMs: number | null;
}

/** A timeline entry as stored. */
export interface RecordedEntry extends TimelineEntry {
  /**
   * The first seq of the transaction (group commit) that recorded it: entries of one group were decided in
   * one moment, in seq order. Null for decisions recorded before schema v6.
   */
  commitGroup: number | null;
}
