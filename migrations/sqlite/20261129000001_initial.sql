-- The embedded store's schema: the same tables as migrations/postgres, in SQLite's types.
-- uuids are text, times are RFC 3339 text in UTC, json is text. Never edit an applied migration.

create table users (
    id            text primary key,
    email         text not null,
    password_hash text not null,
    role          text not null default 'user' check (role in ('user', 'admin')),
    created_at    text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create unique index users_email_key on users (lower(email));

create table refresh_tokens (
    id          text primary key,
    user_id     text not null references users (id) on delete cascade,
    family_id   text not null,
    token_hash  blob not null,
    expires_at  text not null,
    used_at     text,
    revoked_at  text,
    created_at  text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
create unique index refresh_tokens_hash_key on refresh_tokens (token_hash);
create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_user_idx on refresh_tokens (user_id);

create table jobs (
    id                  text primary key,
    owner_id            text not null references users (id) on delete cascade,
    status              text not null default 'pending'
                        check (status in ('pending', 'processing', 'retrying', 'completed', 'failed', 'cancelled')),
    progress_percent    integer not null default 0 check (progress_percent between 0 and 100),
    current_step        text not null default 'Queued',
    attempts            integer not null default 0 check (attempts >= 0),
    error_code          text,
    error_message       text,
    chunk_results       text,
    page_count          integer,
    chunk_count         integer,
    last_finished_chunk integer,
    sentence_count      integer,
    file_name           text not null,
    file_size           integer not null check (file_size >= 0),
    file_sha256         blob not null,
    worker_id           text,
    cancel_requested    integer not null default 0,
    created_at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at          text,
    finished_at         text,
    updated_at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    heartbeat_at        text,
    next_attempt_at     text
);
create index jobs_owner_created_idx on jobs (owner_id, created_at desc);
create index jobs_status_created_idx on jobs (status, created_at);
create index jobs_processing_heartbeat_idx on jobs (heartbeat_at) where status = 'processing';
create index jobs_created_idx on jobs (created_at desc);
create index jobs_pending_updated_idx on jobs (updated_at) where status = 'pending';
create index jobs_retrying_due_idx on jobs (next_attempt_at) where status = 'retrying';

create table job_files (
    job_id  text primary key references jobs (id) on delete cascade,
    content blob not null
);

create table job_chunks (
    job_id      text not null references jobs (id) on delete cascade,
    chunk_index integer not null check (chunk_index >= 0),
    attempt     integer not null,
    first_page  integer not null,
    last_page   integer not null,
    sentences   text not null,
    finished_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    primary key (job_id, chunk_index)
);

create table job_events (
    id        integer primary key autoincrement,
    job_id    text not null references jobs (id) on delete cascade,
    at        text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    attempt   integer not null,
    status    text not null,
    worker_id text,
    message   text not null
);
create index job_events_job_idx on job_events (job_id, id);
