CREATE TABLE `history_daily` (
	`day` text NOT NULL,
	`resource_type` text NOT NULL,
	`metric` text NOT NULL,
	`label` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`day`, `resource_type`, `metric`, `label`)
);
--> statement-breakpoint
CREATE TABLE `history_shape` (
	`resource_id` text PRIMARY KEY NOT NULL,
	`rows` integer NOT NULL,
	`last_seq` integer NOT NULL,
	`last_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `history_shape_gappy` ON `history_shape` (`resource_id`) WHERE "history_shape"."rows" < "history_shape"."last_seq";--> statement-breakpoint
CREATE INDEX `history_shape_recent` ON `history_shape` (`last_at`,`resource_id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`total` integer NOT NULL,
	`processed` integer DEFAULT 0 NOT NULL,
	`created` integer DEFAULT 0 NOT NULL,
	`unchanged` integer DEFAULT 0 NOT NULL,
	`failed_count` integer DEFAULT 0 NOT NULL,
	`failed` text DEFAULT '[]' NOT NULL,
	`cursor` text DEFAULT '{}' NOT NULL,
	`steps` integer DEFAULT 0 NOT NULL,
	`error` text,
	`request_id` text NOT NULL,
	`actor` text NOT NULL,
	`route` text NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `jobs_newest` ON `jobs` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_kind_newest` ON `jobs` (`kind`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_open` ON `jobs` (`updated_at`) WHERE "jobs"."status" IN ('QUEUED', 'RUNNING');--> statement-breakpoint
ALTER TABLE `reconciliation_runs` ADD `phase` text DEFAULT 'done' NOT NULL;--> statement-breakpoint
ALTER TABLE `reconciliation_runs` ADD `cursor` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `reconciliation_runs` ADD `steps` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `reconciliation_runs` ADD `updated_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `reconciliation_runs` ADD `since` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `reconciliation_runs` ADD `min_age_ms` integer DEFAULT 60000 NOT NULL;--> statement-breakpoint
CREATE INDEX `reconciliation_runs_open` ON `reconciliation_runs` (`id`) WHERE "reconciliation_runs"."status" = 'running';--> statement-breakpoint
CREATE INDEX `decision_events_dead_letters` ON `decision_events` (`id`) WHERE "decision_events"."type" = 'webhook.dead_letter';--> statement-breakpoint
-- Written by hand from here on (drizzle-kit does not write triggers). AFTER INSERT fires only for rows
-- really inserted: a re-sent decision (ON CONFLICT DO NOTHING) changes neither table.
CREATE TRIGGER `decision_events_shape` AFTER INSERT ON `decision_events`
BEGIN
	INSERT INTO history_shape (resource_id, rows, last_seq, last_at)
		VALUES (NEW.resource_id, 1, NEW.seq, NEW.server_timestamp)
		ON CONFLICT (resource_id) DO UPDATE SET rows = rows + 1, last_seq = MAX(last_seq, excluded.last_seq),
			last_at = MAX(last_at, excluded.last_at);
END;
--> statement-breakpoint
CREATE TRIGGER `decision_events_daily` AFTER INSERT ON `decision_events`
WHEN NEW.type IN ('reservation.reserve', 'reservation.cancel', 'reservation.expire') OR NEW.outcome = 'REJECTED'
BEGIN
	INSERT INTO history_daily (day, resource_type, metric, label, n)
		SELECT strftime('%Y-%m-%d', NEW.server_timestamp / 1000, 'unixepoch'),
			COALESCE((SELECT type FROM resources WHERE id = NEW.resource_id), ''),
			CASE
				WHEN NEW.type = 'reservation.reserve' AND NEW.outcome = 'ACCEPTED' THEN 'reservations'
				WHEN NEW.type = 'reservation.reserve' AND NEW.outcome = 'REJECTED' THEN 'rejections'
				WHEN NEW.type = 'reservation.cancel' AND NEW.reservation_status = 'CANCELLED'
					AND NEW.version_after > NEW.version_before THEN 'cancellations'
				WHEN NEW.type = 'reservation.expire' AND NEW.reservation_status = 'EXPIRED' THEN 'expired_holds'
			END AS metric, '', 1
		WHERE metric IS NOT NULL
		ON CONFLICT (day, resource_type, metric, label) DO UPDATE SET n = n + 1;
	INSERT INTO history_daily (day, resource_type, metric, label, n)
		SELECT strftime('%Y-%m-%d', NEW.server_timestamp / 1000, 'unixepoch'),
			COALESCE((SELECT type FROM resources WHERE id = NEW.resource_id), ''), 'rejected', COALESCE(NEW.code, 'UNKNOWN'), 1
		WHERE NEW.outcome = 'REJECTED'
		ON CONFLICT (day, resource_type, metric, label) DO UPDATE SET n = n + 1;
END;
--> statement-breakpoint
-- What the history held before the triggers existed (once, when the migration is applied).
INSERT INTO history_shape (resource_id, rows, last_seq, last_at)
	SELECT resource_id, COUNT(*), MAX(seq), MAX(server_timestamp) FROM decision_events GROUP BY resource_id;
--> statement-breakpoint
INSERT INTO history_daily (day, resource_type, metric, label, n)
	SELECT day, resource_type, metric, '', COUNT(*) FROM (
		SELECT strftime('%Y-%m-%d', d.server_timestamp / 1000, 'unixepoch') AS day, COALESCE(r.type, '') AS resource_type,
			CASE
				WHEN d.type = 'reservation.reserve' AND d.outcome = 'ACCEPTED' THEN 'reservations'
				WHEN d.type = 'reservation.reserve' AND d.outcome = 'REJECTED' THEN 'rejections'
				WHEN d.type = 'reservation.cancel' AND d.reservation_status = 'CANCELLED'
					AND d.version_after > d.version_before THEN 'cancellations'
				WHEN d.type = 'reservation.expire' AND d.reservation_status = 'EXPIRED' THEN 'expired_holds'
			END AS metric
		FROM decision_events d LEFT JOIN resources r ON r.id = d.resource_id
	) WHERE metric IS NOT NULL GROUP BY day, resource_type, metric;
--> statement-breakpoint
INSERT INTO history_daily (day, resource_type, metric, label, n)
	SELECT strftime('%Y-%m-%d', d.server_timestamp / 1000, 'unixepoch'), COALESCE(r.type, ''), 'rejected',
		COALESCE(d.code, 'UNKNOWN'), COUNT(*)
	FROM decision_events d LEFT JOIN resources r ON r.id = d.resource_id
	WHERE d.outcome = 'REJECTED' GROUP BY 1, 2, 4;
