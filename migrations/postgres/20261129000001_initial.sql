-- pdfq's schema: users and their refresh tokens, jobs, the uploaded files, per-chunk results and
-- the job event timeline. An applied migration is never edited: add a new one.

create table users (
    id            uuid primary key,
    email         text not null,
    password_hash text not null,
    role          text not null default 'user' check (role in ('user', 'admin')),
    created_at    timestamptz not null default now()
);
-- Emails are unique whatever their case.
create unique index users_email_key on users (lower(email));

create table refresh_tokens (
    id          uuid primary key,
    user_id     uuid not null references users (id) on delete cascade,
    -- Every rotation keeps the family; reuse of a spent token revokes the whole family.
    family_id   uuid not null,
    token_hash  bytea not null,
    expires_at  timestamptz not null,
    used_at     timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz not null default now()
);
create unique index refresh_tokens_hash_key on refresh_tokens (token_hash);
create index refresh_tokens_family_idx on refresh_tokens (family_id);
-- Logout everywhere revokes by user; deleting a user cascades through it too.
create index refresh_tokens_user_idx on refresh_tokens (user_id);

create table jobs (
    id                  uuid primary key,
    owner_id            uuid not null references users (id) on delete cascade,
    status              text not null default 'pending'
                        check (status in ('pending', 'processing', 'retrying', 'completed', 'failed', 'cancelled')),
    progress_percent    smallint not null default 0 check (progress_percent between 0 and 100),
    current_step        text not null default 'Queued',
    attempts            integer not null default 0 check (attempts >= 0),
    error_code          text,
    error_message       text,
    -- The result: the chunks with their sentences, written once when the job completes.
    chunk_results       jsonb,
    page_count          integer,
    chunk_count         integer,
    last_finished_chunk integer,
    sentence_count      integer,
    file_name           text not null,
    file_size           bigint not null check (file_size >= 0),
    file_sha256         bytea not null,
    worker_id           text,
    cancel_requested    boolean not null default false,
    created_at          timestamptz not null default now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz not null default now(),
    heartbeat_at        timestamptz,
    -- When a retrying job may run again.
    next_attempt_at     timestamptz
);
create index jobs_owner_created_idx on jobs (owner_id, created_at desc);
create index jobs_status_created_idx on jobs (status, created_at);
-- The sweeper looks for running jobs with a stale heartbeat.
create index jobs_processing_heartbeat_idx on jobs (heartbeat_at) where status = 'processing';
-- The admin list of every job, newest first.
create index jobs_created_idx on jobs (created_at desc);
-- The sweeper's pending jobs that may never have been enqueued, and the oldest waiting job.
create index jobs_pending_updated_idx on jobs (updated_at) where status = 'pending';
-- Retrying jobs whose backoff has ended.
create index jobs_retrying_due_idx on jobs (next_attempt_at) where status = 'retrying';

-- The uploaded PDF, apart from jobs so the row that is polled stays small.
create table job_files (
    job_id  uuid primary key references jobs (id) on delete cascade,
    content bytea not null
);

-- Results of finished chunks while a job runs, so a retry resumes after the last one.
create table job_chunks (
    job_id      uuid not null references jobs (id) on delete cascade,
    chunk_index integer not null check (chunk_index >= 0),
    attempt     integer not null,
    first_page  integer not null,
    last_page   integer not null,
    sentences   jsonb not null,
    finished_at timestamptz not null default now(),
    primary key (job_id, chunk_index)
);

create table job_events (
    id        bigserial primary key,
    job_id    uuid not null references jobs (id) on delete cascade,
    at        timestamptz not null default now(),
    attempt   integer not null,
    status    text not null,
    worker_id text,
    message   text not null
);
create index job_events_job_idx on job_events (job_id, id);
