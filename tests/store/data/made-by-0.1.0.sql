-- A database as mms-bot 0.1.0 (bot/store.py, before bot/store/) left it: one send half sent,
-- a suppression and an unsuppression, a STOP reply, an allowed user, a draft. Made by that code.
BEGIN TRANSACTION;
CREATE TABLE "allowlist" (
   "user_id" TEXT PRIMARY KEY,
   "added_by" TEXT,
   "added_at" TEXT
);
INSERT INTO "allowlist" VALUES('UCAROL','UADMIN','2026-12-01T18:58:45.418+00:00');
CREATE TABLE "allowlist_audit" (
   "id" INTEGER PRIMARY KEY,
   "action" TEXT,
   "user_id" TEXT,
   "actor" TEXT,
   "at" TEXT
);
INSERT INTO "allowlist_audit" VALUES(1,'allow','UCAROL','UADMIN','2026-12-01T18:58:45.418+00:00');
CREATE TABLE "batches" (
   "id" INTEGER PRIMARY KEY,
   "send_id" INTEGER NOT NULL REFERENCES "sends"("id"),
   "seq" INTEGER NOT NULL,
   "state" TEXT NOT NULL,
   "contacts" TEXT NOT NULL,
   "error_kind" TEXT,
   "error_message" TEXT,
   "queued" TEXT,
   "invalid" TEXT,
   "unsubscribed" TEXT,
   "response_summary" TEXT,
   "started_at" TEXT,
   "finished_at" TEXT,
   "owner" TEXT,
   "lease_until" REAL,
   "attempts" INTEGER DEFAULT 0
);
INSERT INTO "batches" VALUES(1,1,0,'queued','["400000001", "400000002"]',NULL,NULL,NULL,NULL,NULL,NULL,'2026-12-01T18:58:45.418+00:00','2026-12-01T18:58:45.419+00:00',NULL,NULL,1);
INSERT INTO "batches" VALUES(2,1,1,'pending','["400000003"]',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,0);
CREATE TABLE "drafts" (
   "id" TEXT PRIMARY KEY,
   "user_id" TEXT NOT NULL,
   "channel_id" TEXT NOT NULL,
   "state" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "review" TEXT,
   "numbers" TEXT,
   "media" BLOB,
   "problems" TEXT
);
INSERT INTO "drafts" VALUES('D1','UCAROL','C1','checking','2026-12-01T18:58:45.418+00:00',NULL,NULL,NULL,NULL);
CREATE TABLE "instances" (
   "id" TEXT PRIMARY KEY,
   "pid" INTEGER,
   "host" TEXT,
   "started_at" TEXT,
   "seen_at" REAL
);
CREATE TABLE "recipients" (
   "id" INTEGER PRIMARY KEY,
   "send_id" INTEGER NOT NULL,
   "batch_id" INTEGER,
   "number" TEXT NOT NULL,
   "outcome" TEXT NOT NULL,
   "reason" TEXT,
   "message_id" TEXT,
   "delivery" TEXT,
   "delivery_at" TEXT
);
INSERT INTO "recipients" VALUES(1,1,NULL,'12345 (row 2)','invalid','too short',NULL,NULL,NULL);
INSERT INTO "recipients" VALUES(2,1,1,'400000001','queued',NULL,'m1',NULL,NULL);
INSERT INTO "recipients" VALUES(3,1,1,'400000002','queued',NULL,'m2',NULL,NULL);
CREATE TABLE "replies" (
   "id" INTEGER PRIMARY KEY,
   "key" TEXT NOT NULL,
   "number" TEXT NOT NULL,
   "body" TEXT,
   "received_at" TEXT,
   "source" TEXT,
   "send_id" INTEGER,
   "kind" TEXT,
   "created_at" TEXT
);
INSERT INTO "replies" VALUES(1,'poll:1','400000001','STOP','2026-11-30T01:00:00+00:00','poll',1,'optout','2026-12-01T18:58:45.419+00:00');
CREATE TABLE "reports" (
   "id" INTEGER PRIMARY KEY,
   "key" TEXT NOT NULL,
   "send_id" INTEGER,
   "kind" TEXT NOT NULL,
   "payload" TEXT,
   "created_at" TEXT,
   "due_at" REAL NOT NULL,
   "attempts" INTEGER DEFAULT 0,
   "last_error" TEXT,
   "owner" TEXT,
   "lease_until" REAL,
   "done_at" REAL,
   "delivered_at" REAL
);
INSERT INTO "reports" VALUES(1,'post:1',1,'post',NULL,'2026-12-01T18:58:45.418+00:00',1.79615152541841530805e+09,0,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "reports" VALUES(2,'image:1',1,'image',NULL,'2026-12-01T18:58:45.418+00:00',1.79615152541841530805e+09,0,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "reports" VALUES(3,'progress:1',1,'progress',NULL,'2026-12-01T18:58:45.419+00:00',1.79615152541903519631e+09,0,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE "sends" (
   "id" INTEGER PRIMARY KEY,
   "view_id" TEXT NOT NULL,
   "user_id" TEXT NOT NULL,
   "channel_id" TEXT NOT NULL,
   "message" TEXT NOT NULL,
   "sender" TEXT,
   "gif_url" TEXT,
   "media" BLOB,
   "media_name" TEXT,
   "media_type" TEXT,
   "media_digest" TEXT,
   "media_note" TEXT DEFAULT '',
   "media_ref" TEXT,
   "rejected" TEXT,
   "duplicates" INTEGER DEFAULT 0,
   "total_contacts" INTEGER,
   "state" TEXT NOT NULL DEFAULT 'open',
   "report_channel" TEXT,
   "report_ts" TEXT,
   "report_note" TEXT DEFAULT '',
   "resumed" INTEGER DEFAULT 0,
   "created_at" TEXT,
   "finished_at" TEXT,
   "resend_of" INTEGER,
   "dry_run" INTEGER DEFAULT 0,
   "batches_total" INTEGER DEFAULT 0,
   "batches_done" INTEGER DEFAULT 0,
   "turn" INTEGER DEFAULT 0,
   "active_at" REAL,
   "images_ok" INTEGER DEFAULT 1,
   "reported_at" TEXT,
   "purged_at" TEXT,
   "stop_kind" TEXT,
   "stop_message" TEXT,
   "review_suppressed" INTEGER DEFAULT 0,
   "worked_by" TEXT,
   "report_hold_until" REAL,
   "n_delivered" INTEGER,
   "n_undelivered" INTEGER,
   "delivery_done_at" TEXT,
   "n_queued" INTEGER DEFAULT 0,
   "n_invalid" INTEGER DEFAULT 0,
   "n_rejected" INTEGER DEFAULT 0,
   "n_unsubscribed" INTEGER DEFAULT 0,
   "n_suppressed" INTEGER DEFAULT 0,
   "n_unconfirmed" INTEGER DEFAULT 0,
   "n_failed" INTEGER DEFAULT 0,
   "n_unknown" INTEGER DEFAULT 0,
   "n_expired" INTEGER DEFAULT 0
);
INSERT INTO "sends" VALUES(1,'V1','UCAROL','C1','hello',NULL,NULL,X'89504E47696D67',NULL,NULL,NULL,'',NULL,NULL,0,3,'open',NULL,NULL,'',0,'2026-12-01T18:58:45.418+00:00',NULL,NULL,0,2,1,1,1.79615152541903519631e+09,1,NULL,NULL,NULL,NULL,0,'old-host-1',NULL,NULL,NULL,NULL,2,1,0,0,0,0,0,0,0);
CREATE TABLE "suppression" (
   "number" TEXT PRIMARY KEY,
   "source" TEXT,
   "reason" TEXT,
   "added_by" TEXT,
   "added_at" TEXT
);
INSERT INTO "suppression" VALUES('400000009','cellcast','on Cellcast''s opt-out list','cellcast','2026-12-01T18:58:45.419+00:00');
CREATE TABLE "suppression_audit" (
   "id" INTEGER PRIMARY KEY,
   "action" TEXT,
   "number" TEXT,
   "source" TEXT,
   "reason" TEXT,
   "actor" TEXT,
   "at" TEXT
);
INSERT INTO "suppression_audit" VALUES(1,'suppress','400000009','cellcast','on Cellcast''s opt-out list','cellcast','2026-12-01T18:58:45.419+00:00');
INSERT INTO "suppression_audit" VALUES(2,'suppress','400000008','cellcast','on Cellcast''s opt-out list','cellcast','2026-12-01T18:58:45.419+00:00');
INSERT INTO "suppression_audit" VALUES(3,'unsuppress','400000008','cellcast','asked','UADMIN','2026-12-01T18:58:45.419+00:00');
CREATE TABLE "sync_state" (
   "name" TEXT PRIMARY KEY,
   "value" TEXT,
   "owner" TEXT,
   "lease_until" REAL,
   "updated_at" TEXT
);
INSERT INTO "sync_state" VALUES('replies_newest','poll:1',NULL,NULL,'2026-12-01T18:58:45.419+00:00');
CREATE UNIQUE INDEX "idx_sends_view_id"
    ON "sends" ("view_id");
CREATE INDEX "idx_sends_state_turn"
    ON "sends" ("state", "turn");
CREATE UNIQUE INDEX "idx_batches_send_id_seq"
    ON "batches" ("send_id", "seq");
CREATE INDEX "idx_batches_state"
    ON "batches" ("state");
CREATE INDEX "idx_recipients_send_id_outcome"
    ON "recipients" ("send_id", "outcome");
CREATE INDEX "idx_recipients_number"
    ON "recipients" ("number");
CREATE INDEX "idx_recipients_message_id"
    ON "recipients" ("message_id");
CREATE UNIQUE INDEX "idx_reports_key"
    ON "reports" ("key");
CREATE INDEX "idx_reports_done_at_due_at"
    ON "reports" ("done_at", "due_at");
CREATE UNIQUE INDEX "idx_replies_key"
    ON "replies" ("key");
CREATE INDEX "idx_replies_number_body"
    ON "replies" ("number", "body");
COMMIT;
