-- A finished chunk is written straight into the result's rows (job_result_chunks and
-- job_sentences) in the transaction that records it, instead of as one jsonb value in
-- job_chunks that completing the job copied into those rows and then deleted: each sentence is
-- written once, not three times. A retry still resumes after the last saved chunk; a page of
-- sentences is still shown only once the job has completed (jobs.sentence_count is set then).
-- Chunks saved by jobs still running move over, numbered as completing them would have (a job
-- with a result never has chunk rows left: completing deleted them; such rows are not copied).
-- Stop the workers before migrating: a worker of the previous version saves into job_chunks.

insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
select job_id, chunk_index, first_page, last_page from job_chunks
where job_id in (select id from jobs where sentence_count is null)
on conflict (job_id, chunk_index) do nothing;

insert into job_sentences (job_id, sentence_index, chunk_index, page, text, provenance)
select c.job_id,
       (row_number() over (partition by c.job_id order by c.chunk_index, s.ord) - 1)::integer,
       c.chunk_index, (s.value ->> 'page')::integer, s.value ->> 'text', s.value ->> 'prov'
from job_chunks c
cross join lateral jsonb_array_elements(c.sentences) with ordinality as s(value, ord)
where c.job_id in (select id from jobs where sentence_count is null)
on conflict (job_id, sentence_index) do nothing;

drop table job_chunks;
