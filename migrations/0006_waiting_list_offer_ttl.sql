-- Written by hand (not drizzle-kit): waiting-list offers lapse after this many seconds (API.md v1.1, docs/decisions.md #32).
ALTER TABLE `resources` ADD `waiting_list_offer_ttl_seconds` integer DEFAULT 900 NOT NULL;
