/**
 * The CSV import's columns (POST /admin/resources/import), in order: the
 * route parses by them and the OpenAPI document describes them.
 */
export const IMPORT_HEADER = [
  "id",
  "type",
  "capacity",
  "waiting_list_enabled",
  "booking_opens_at",
  "booking_closes_at",
  "max_quantity_per_reservation",
  "hold_ttl_seconds",
  "waiting_list_offer_ttl_seconds",
] as const;
