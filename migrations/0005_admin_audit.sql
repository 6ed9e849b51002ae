-- The audit log (decision 27): every admin action, in the order it reached D1.
-- Key, maintenance and import actions are written by the Worker in the same
-- batch as the action; resource actions (create, update, close, reopen) are
-- copied from decision_events by the trigger below as the outbox delivers them.
CREATE TABLE `admin_audit` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` integer NOT NULL,
	`action` text NOT NULL,
	`route` text NOT NULL,
	`key_id` text,
	`request_id` text NOT NULL,
	`resource_id` text,
	`outcome` text NOT NULL,
	`reason` text NOT NULL,
	`before` text,
	`after` text,
	`source_event_id` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_audit_source_event` ON `admin_audit` (`source_event_id`);
--> statement-breakpoint
-- AFTER INSERT fires only for rows really inserted: a re-sent decision (ON CONFLICT DO NOTHING) copies nothing.
-- The route is in the decision's detail (older decisions: the route that makes each type).
CREATE TRIGGER `decision_events_admin_audit` AFTER INSERT ON `decision_events`
WHEN NEW.type IN ('resource.create', 'resource.update', 'resource.close', 'resource.reopen')
BEGIN
	INSERT OR IGNORE INTO admin_audit
		(time, action, route, key_id, request_id, resource_id, outcome, reason, before, after, source_event_id)
	VALUES (
		NEW.server_timestamp, NEW.type,
		COALESCE(json_extract(NEW.detail, '$.route'), CASE NEW.type
			WHEN 'resource.create' THEN 'POST /resources'
			WHEN 'resource.update' THEN 'PATCH /resources/{id}'
			WHEN 'resource.close' THEN 'POST /resources/{id}/close'
			ELSE 'POST /resources/{id}/reopen' END),
		json_extract(NEW.detail, '$.actor'), NEW.request_id, NEW.resource_id, NEW.outcome, NEW.reason,
		json_extract(NEW.detail, '$.before'), json_extract(NEW.detail, '$.after'), NEW.id);
END;
--> statement-breakpoint
-- Resource actions recorded before the trigger existed, in their order of arrival.
INSERT OR IGNORE INTO admin_audit
	(time, action, route, key_id, request_id, resource_id, outcome, reason, before, after, source_event_id)
SELECT server_timestamp, type,
	COALESCE(json_extract(detail, '$.route'), CASE type
		WHEN 'resource.create' THEN 'POST /resources'
		WHEN 'resource.update' THEN 'PATCH /resources/{id}'
		WHEN 'resource.close' THEN 'POST /resources/{id}/close'
		ELSE 'POST /resources/{id}/reopen' END),
	json_extract(detail, '$.actor'), request_id, resource_id, outcome, reason,
	json_extract(detail, '$.before'), json_extract(detail, '$.after'), id
FROM decision_events
WHERE type IN ('resource.create', 'resource.update', 'resource.close', 'resource.reopen')
ORDER BY id;
