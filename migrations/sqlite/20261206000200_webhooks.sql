-- The same as migrations/postgres: webhooks, their delivery outbox and each attempt's outcome.
create table webhooks (
    id         text primary key,
    owner_id   text not null references users (id) on delete cascade,
    url        text not null check (length(url) between 1 and 2048),
    events     text not null,
    secret     text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

create index webhooks_owner_idx on webhooks (owner_id);

create table webhook_deliveries (
    id              text primary key,
    webhook_id      text not null references webhooks (id) on delete cascade,
    event           text not null,
    job_id          text not null,
    payload         text not null,
    status          text not null default 'pending'
                    check (status in ('pending', 'delivered', 'failed')),
    attempts        integer not null default 0 check (attempts >= 0),
    next_attempt_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_at      text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at     text
);

create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, created_at);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where status = 'pending';

create table webhook_attempts (
    delivery_id text not null references webhook_deliveries (id) on delete cascade,
    attempt     integer not null check (attempt >= 1),
    at          text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    status_code integer,
    error       text,
    duration_ms integer not null check (duration_ms >= 0),
    primary key (delivery_id, attempt)
) without rowid;
