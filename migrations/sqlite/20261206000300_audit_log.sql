-- Every operator action through the admin API (pause, resume, retry, cancel, delete, purge,
-- drain, bulk action): who, when, what and how many. The actor's email is kept as it was and
-- the id has no foreign key, so the record outlives the account. A command run on the database
-- directly (pdfctl jobs purge, on DATABASE_URL) has no account: no id, and the operating
-- system's user@host as its email.
create table audit_log (
    id          integer primary key autoincrement,
    at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor_id    text,
    actor_email text not null,
    action      text not null,
    -- What it acted on: a job id, a worker id, a bulk filter; null for the queue as a whole.
    target      text,
    -- How many things it changed (jobs retried, dead letters purged, ...).
    count       integer not null check (count >= 0),
    detail      text
);
-- Read newest first, from a time or before an entry (the pages of GET /api/v1/admin/audit).
create index audit_log_at_idx on audit_log (at);
