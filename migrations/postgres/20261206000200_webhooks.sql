-- Webhooks (issue 16 item 4): endpoints a user registers to be told of their jobs' status changes.
-- The secret signs each delivery (HMAC-SHA256), so it is kept as it is (it must be readable to
-- sign) and returned only when the webhook is created. `events` is a JSON array of event names.
create table webhooks (
    id         uuid primary key,
    owner_id   uuid not null references users (id) on delete cascade,
    url        text not null check (length(url) between 1 and 2048),
    events     text not null,
    secret     text not null,
    created_at timestamptz not null default now()
);

create index webhooks_owner_idx on webhooks (owner_id);

-- The outbox: one row per (webhook, job status change), written in the transaction of the
-- change itself so none is lost, then sent by a worker (at least once). `status` is pending
-- until a 2xx answer (delivered) or the retry window is spent (failed). A worker that takes a
-- delivery moves next_attempt_at past its lease, so a delivery whose worker died is due again.
-- job_id has no foreign key: a deleted job's deliveries still go out.
create table webhook_deliveries (
    id              uuid primary key,
    webhook_id      uuid not null references webhooks (id) on delete cascade,
    event           text not null,
    job_id          uuid not null,
    payload         text not null,
    status          text not null default 'pending'
                    check (status in ('pending', 'delivered', 'failed')),
    attempts        integer not null default 0 check (attempts >= 0),
    next_attempt_at timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    finished_at     timestamptz
);

create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, created_at);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where status = 'pending';

-- Each attempt's outcome: the HTTP status (none when the request failed), the error, how long
-- it took.
create table webhook_attempts (
    delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
    attempt     integer not null check (attempt >= 1),
    at          timestamptz not null default now(),
    status_code integer,
    error       text,
    duration_ms integer not null check (duration_ms >= 0),
    primary key (delivery_id, attempt)
);
