import type { RefusalCode } from "./errors";
import type { Json } from "./resource";

export type ReservationStatus = "HELD" | "CONFIRMED" | "CHECKED_IN" | "CANCELLED" | "EXPIRED";

/** A reservation as the resource's Durable Object stores it (times in epoch ms). */
export interface Reservation {
  id: string;
  resourceId: string;
  clientId: string;
  quantity: number;
  status: ReservationStatus;
  serverTimestamp: number;
  serverSeq: number;
  expiresAt: number | null;
  rulesVersion: number;
  metadata: Record<string, Json>;
  cancelledAt: number | null;
  expiredAt: number | null;
  checkedInAt: number | null;
}

/** The result of a reservation command as it crosses RPC: a value, never a thrown error. */
export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; code: RefusalCode | "NOT_FOUND" };
