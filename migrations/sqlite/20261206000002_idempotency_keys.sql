-- The same as migrations/postgres: the Idempotency-Key of uploads, written with the job.
create table idempotency_keys (
    owner_id   text not null references users (id) on delete cascade,
    key        text not null check (length(key) between 1 and 255),
    job_id     text not null references jobs (id) on delete cascade,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    primary key (owner_id, key)
) without rowid;

create index idempotency_keys_job_idx on idempotency_keys (job_id);
