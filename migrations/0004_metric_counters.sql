CREATE TABLE `metric_counters` (
	`name` text NOT NULL,
	`label` text NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`name`, `label`)
);
--> statement-breakpoint
-- Keeps metric_counters in step with decision_events. AFTER INSERT fires only
-- for rows really inserted: a re-sent decision (ON CONFLICT DO NOTHING) adds nothing.
CREATE TRIGGER `decision_events_metrics` AFTER INSERT ON `decision_events`
BEGIN
	INSERT INTO metric_counters (name, label, value)
		SELECT 'reservations_total', NEW.reservation_status, 1
		WHERE NEW.outcome = 'ACCEPTED' AND NEW.version_after > NEW.version_before AND NEW.reservation_status IS NOT NULL
		ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value;
	INSERT INTO metric_counters (name, label, value)
		SELECT 'rejections_total', COALESCE(NEW.code, 'UNKNOWN'), 1
		WHERE NEW.outcome = 'REJECTED'
		ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value;
	INSERT INTO metric_counters (name, label, value)
		SELECT 'webhook_deliveries_total', 'dead_lettered', 1
		WHERE NEW.type = 'webhook.dead_letter'
		ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value;
	INSERT INTO metric_counters (name, label, value)
		SELECT 'commit_duration_ms', CAST(MIN(NEW.latency_ms, 10001) AS TEXT), 1
		WHERE NEW.latency_ms IS NOT NULL
		ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value;
	INSERT INTO metric_counters (name, label, value)
		SELECT 'commit_duration_sum_ms', '', NEW.latency_ms
		WHERE NEW.latency_ms IS NOT NULL
		ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
-- Counts of the history recorded before the trigger existed.
INSERT INTO metric_counters (name, label, value)
	SELECT 'reservations_total', reservation_status, COUNT(*) FROM decision_events
	WHERE outcome = 'ACCEPTED' AND version_after > version_before AND reservation_status IS NOT NULL
	GROUP BY reservation_status;
--> statement-breakpoint
INSERT INTO metric_counters (name, label, value)
	SELECT 'rejections_total', COALESCE(code, 'UNKNOWN'), COUNT(*) FROM decision_events
	WHERE outcome = 'REJECTED' GROUP BY COALESCE(code, 'UNKNOWN');
--> statement-breakpoint
INSERT INTO metric_counters (name, label, value)
	SELECT 'webhook_deliveries_total', 'dead_lettered', COUNT(*) FROM decision_events
	WHERE type = 'webhook.dead_letter' HAVING COUNT(*) > 0;
--> statement-breakpoint
INSERT INTO metric_counters (name, label, value)
	SELECT 'commit_duration_ms', CAST(MIN(latency_ms, 10001) AS TEXT), COUNT(*)
	FROM decision_events WHERE latency_ms IS NOT NULL
	GROUP BY CAST(MIN(latency_ms, 10001) AS TEXT);
--> statement-breakpoint
INSERT INTO metric_counters (name, label, value)
	SELECT 'commit_duration_sum_ms', '', SUM(latency_ms) FROM decision_events
	WHERE latency_ms IS NOT NULL HAVING COUNT(*) > 0;
