-- Idempotency-Key of uploads: a retried upload with the same key (same user, within 24 hours)
-- gets the first job instead of a second one. Written in the job's own transaction, so a job and
-- its key exist together or not at all; the primary key makes concurrent duplicates wait for the
-- first and then fail, and they answer with its job. Gone with the job or the user.
create table idempotency_keys (
    owner_id   uuid not null references users (id) on delete cascade,
    key        text not null check (length(key) between 1 and 255),
    job_id     uuid not null references jobs (id) on delete cascade,
    created_at timestamptz not null default now(),
    primary key (owner_id, key)
);

create index idempotency_keys_job_idx on idempotency_keys (job_id);
