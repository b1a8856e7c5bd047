-- The same as migrations/postgres: finished chunks go straight into the result's rows, each
-- sentence written once; chunks of jobs still running move over.

insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
select job_id, chunk_index, first_page, last_page from job_chunks
where job_id in (select id from jobs where sentence_count is null)
on conflict (job_id, chunk_index) do nothing;

insert into job_sentences (job_id, sentence_index, chunk_index, page, text, provenance)
select c.job_id,
       row_number() over (partition by c.job_id order by c.chunk_index, s.key) - 1,
       c.chunk_index, json_extract(s.value, '$.page'), json_extract(s.value, '$.text'),
       json_extract(s.value, '$.prov')
from job_chunks c, json_each(c.sentences) as s
where c.job_id in (select id from jobs where sentence_count is null)
on conflict (job_id, sentence_index) do nothing;

drop table job_chunks;
