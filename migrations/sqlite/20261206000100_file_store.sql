-- Files may live outside the database (STORAGE_URL=s3://...). Each object gets a row here before
-- it is written, so no object is ever unknown to the database; the job's transaction links it.
-- An unlinked row (the job never committed, was deleted, or its file's retention ended) names an
-- object the sweeper deletes once delete_after has passed (an upload's row is given a grace
-- period for its job to commit). Files kept in the database stay in job_files.
create table stored_files (
    key          text primary key,
    job_id       text references jobs (id) on delete set null,
    delete_after text not null
);
create unique index stored_files_job_key on stored_files (job_id);
create index stored_files_unlinked_idx on stored_files (delete_after) where job_id is null;

-- Set when retention removed the job's file: a retry is refused, the bytes no longer count.
alter table jobs add column file_removed_at text;
-- The sweeper's files due for removal, and its jobs due for deletion.
create index jobs_file_kept_idx on jobs (finished_at)
    where file_removed_at is null and status in ('completed', 'failed', 'cancelled');
create index jobs_ended_idx on jobs (finished_at) where status in ('completed', 'failed', 'cancelled');
-- Per-user quotas: bytes still kept, and jobs not yet ended.
create index jobs_owner_kept_idx on jobs (owner_id, file_size) where file_removed_at is null;
create index jobs_owner_live_idx on jobs (owner_id) where status in ('pending', 'processing', 'retrying');
