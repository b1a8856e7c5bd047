-- The overview's per-minute throughput reads the last hour of completed and failed events:
-- by time, so the read is a range over this index, not a scan of every event ever recorded.
create index job_events_at_idx on job_events (at);
