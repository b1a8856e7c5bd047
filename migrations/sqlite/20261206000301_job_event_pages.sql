-- The pages a job had, on its completion event: the throughput view counts pages per minute
-- and per worker from the events alone. Earlier completions take their job's page count.
alter table job_events add column pages integer;
update job_events set pages = (select page_count from jobs where jobs.id = job_events.job_id)
where status = 'completed';
