CREATE TABLE `orders` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`status` text NOT NULL,
	`hold` integer NOT NULL,
	`items` text NOT NULL,
	`expires_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`metadata` text NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `orders_status` ON `orders` (`status`);--> statement-breakpoint
CREATE INDEX `orders_created_id` ON `orders` (`created_at`,`id`);--> statement-breakpoint
ALTER TABLE `reservations` ADD `order_id` text;--> statement-breakpoint
-- orders_total{status} (GET /metrics): orders that reached each status, as the history recorded them.
-- Kept by triggers, so /metrics reads a few counter rows however many orders there are.
CREATE TRIGGER `orders_metrics_insert` AFTER INSERT ON `orders`
BEGIN
	INSERT INTO metric_counters (name, label, value) VALUES ('orders_total', NEW.status, 1)
		ON CONFLICT (name, label) DO UPDATE SET value = value + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `orders_metrics_update` AFTER UPDATE OF `status` ON `orders` WHEN NEW.status <> OLD.status
BEGIN
	INSERT INTO metric_counters (name, label, value) VALUES ('orders_total', NEW.status, 1)
		ON CONFLICT (name, label) DO UPDATE SET value = value + 1;
END;
