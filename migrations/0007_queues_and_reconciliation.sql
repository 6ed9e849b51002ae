-- History arrives through a queue, possibly out of order: a resource row is replaced only by a later decision's.
ALTER TABLE `resources` ADD `last_seq` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
CREATE TABLE `reconciliation_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`trigger` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`status` text NOT NULL,
	`watermark` integer NOT NULL,
	`resources_checked` integer DEFAULT 0 NOT NULL,
	`gaps_found` integer DEFAULT 0 NOT NULL,
	`gaps_repaired` integer DEFAULT 0 NOT NULL,
	`decisions_repaired` integer DEFAULT 0 NOT NULL,
	`disagreements` text DEFAULT '[]' NOT NULL,
	`error` text,
	`registry_cursor` text
);
--> statement-breakpoint
CREATE TABLE `history_dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`resource_id` text NOT NULL,
	`first_seq` integer NOT NULL,
	`last_seq` integer NOT NULL,
	`decisions` integer NOT NULL,
	`received_at` integer NOT NULL,
	`reconciled_at` integer
);
--> statement-breakpoint
CREATE INDEX `history_dead_letters_open` ON `history_dead_letters` (`id`) WHERE `reconciled_at` IS NULL;
