CREATE TABLE `decision_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`resource_id` text NOT NULL,
	`seq` integer NOT NULL,
	`server_timestamp` integer NOT NULL,
	`type` text NOT NULL,
	`request_id` text NOT NULL,
	`client_id` text,
	`quantity` integer,
	`outcome` text NOT NULL,
	`code` text,
	`reason` text NOT NULL,
	`detail` text NOT NULL,
	`version_before` integer NOT NULL,
	`version_after` integer NOT NULL,
	`rules_version` integer NOT NULL,
	`reservation_id` text,
	`reservation_status` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `decision_events_resource_seq` ON `decision_events` (`resource_id`,`seq`);--> statement-breakpoint
CREATE INDEX `decision_events_time` ON `decision_events` (`server_timestamp`);--> statement-breakpoint
CREATE TABLE `export_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`started_at` integer NOT NULL,
	`completed_at` integer,
	`status` text NOT NULL,
	`from_id` integer NOT NULL,
	`to_id` integer NOT NULL,
	`rows` integer NOT NULL,
	`keys` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `reservations` (
	`id` text PRIMARY KEY NOT NULL,
	`resource_id` text NOT NULL,
	`client_id` text NOT NULL,
	`quantity` integer NOT NULL,
	`status` text NOT NULL,
	`server_seq` integer NOT NULL,
	`server_timestamp` integer NOT NULL,
	`expires_at` integer,
	`rules_version` integer NOT NULL,
	`metadata` text NOT NULL,
	`cancelled_at` integer,
	`expired_at` integer,
	`checked_in_at` integer,
	`updated_seq` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `reservations_time_id` ON `reservations` (`server_timestamp`,`id`);--> statement-breakpoint
CREATE INDEX `reservations_resource_time_id` ON `reservations` (`resource_id`,`server_timestamp`,`id`);--> statement-breakpoint
CREATE TABLE `resources` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`state` text NOT NULL,
	`capacity` integer NOT NULL,
	`confirmed` integer NOT NULL,
	`held` integer NOT NULL,
	`waiting_list_enabled` integer NOT NULL,
	`booking_opens_at` integer,
	`booking_closes_at` integer,
	`max_quantity_per_reservation` integer,
	`hold_ttl_seconds` integer NOT NULL,
	`metadata` text NOT NULL,
	`version` integer NOT NULL,
	`rules_version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `resources_type_id` ON `resources` (`type`,`id`);--> statement-breakpoint
CREATE INDEX `resources_state_id` ON `resources` (`state`,`id`);