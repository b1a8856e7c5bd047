-- The same as migrations/postgres: a completed job's result as one row per chunk and one per
-- sentence, keyed by the sentence's place in the whole result, so a page of sentences is one
-- primary-key range read (it was a nested json_each over the whole result with an OFFSET).
-- Existing results move out of jobs.chunk_results, which is dropped.

create table job_result_chunks (
    job_id      text not null references jobs (id) on delete cascade,
    chunk_index integer not null check (chunk_index >= 0),
    first_page  integer not null,
    last_page   integer not null,
    primary key (job_id, chunk_index)
) without rowid;

-- Without rowid: the rows are stored in key order, so a page is one seek and a short scan.
create table job_sentences (
    job_id         text not null references jobs (id) on delete cascade,
    sentence_index integer not null check (sentence_index >= 0),
    chunk_index    integer not null,
    page           integer not null,
    text           text not null,
    primary key (job_id, sentence_index)
) without rowid;

insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
select j.id, json_extract(c.value, '$.index'), json_extract(c.value, '$.first_page'),
       json_extract(c.value, '$.last_page')
from jobs j, json_each(j.chunk_results) as c
where j.chunk_results is not null;

insert into job_sentences (job_id, sentence_index, chunk_index, page, text)
select j.id,
       row_number() over (partition by j.id order by c.key, s.key) - 1,
       json_extract(c.value, '$.index'), json_extract(s.value, '$.page'),
       json_extract(s.value, '$.text')
from jobs j, json_each(j.chunk_results) as c, json_each(c.value, '$.sentences') as s
where j.chunk_results is not null;

alter table jobs drop column chunk_results;
