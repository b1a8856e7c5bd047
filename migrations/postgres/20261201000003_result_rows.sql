-- A completed job's result as rows: one per chunk (its pages) and one per sentence, keyed by
-- the sentence's place in the whole result, so a page of sentences is one primary-key range
-- read whatever its depth (it was a walk through one jsonb value holding the whole result).
-- Existing results move out of jobs.chunk_results, which is dropped.

create table job_result_chunks (
    job_id      uuid not null references jobs (id) on delete cascade,
    chunk_index integer not null check (chunk_index >= 0),
    first_page  integer not null,
    last_page   integer not null,
    primary key (job_id, chunk_index)
);

create table job_sentences (
    job_id         uuid not null references jobs (id) on delete cascade,
    -- 0-based, across the whole result in chunk order: what the API shows as the index.
    sentence_index integer not null check (sentence_index >= 0),
    chunk_index    integer not null,
    page           integer not null,
    text           text not null,
    primary key (job_id, sentence_index)
);

insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
select j.id, (c.value ->> 'index')::integer, (c.value ->> 'first_page')::integer,
       (c.value ->> 'last_page')::integer
from jobs j
cross join lateral jsonb_array_elements(j.chunk_results) as c(value)
where j.chunk_results is not null;

insert into job_sentences (job_id, sentence_index, chunk_index, page, text)
select j.id,
       (row_number() over (partition by j.id order by c.ord, s.ord) - 1)::integer,
       (c.value ->> 'index')::integer, (s.value ->> 'page')::integer, s.value ->> 'text'
from jobs j
cross join lateral jsonb_array_elements(j.chunk_results) with ordinality as c(value, ord)
cross join lateral jsonb_array_elements(c.value -> 'sentences') with ordinality as s(value, ord)
where j.chunk_results is not null;

alter table jobs drop column chunk_results;
