ALTER TABLE `decision_events` ADD `latency_ms` integer;--> statement-breakpoint
ALTER TABLE `decision_events` ADD `drained_at` integer;