-- A job's sentences are its result's bulk: hundreds of rows per job, each of which paid a
-- foreign-key check (a trigger running a query on jobs per row: half the cost of saving them).
-- The store writes sentences only while holding the job's row (the attempt check locks it),
-- so the check proved nothing; the cascade it gave is kept by one statement-level trigger
-- that deletes the sentences of every deleted job, however the job was deleted (directly, by
-- the sweeper, or through its owner's cascade).
alter table job_sentences drop constraint job_sentences_job_id_fkey;

create function delete_sentences_of_deleted_jobs() returns trigger
language plpgsql as $$
begin
    delete from job_sentences s using deleted_jobs d where s.job_id = d.id;
    return null;
end
$$;

create trigger jobs_delete_sentences after delete on jobs
    referencing old table as deleted_jobs
    for each statement execute function delete_sentences_of_deleted_jobs();
