-- The same as migrations/postgres: job_sentences loses its foreign key (a check per sentence,
-- proving nothing: sentences are written only while the job's row is held) and a trigger
-- deletes a deleted job's sentences, as the cascade did. SQLite cannot drop a constraint: the
-- table is rebuilt with the same columns and key.
create table job_sentences_new (
    job_id         text not null,
    sentence_index integer not null check (sentence_index >= 0),
    chunk_index    integer not null,
    page           integer not null,
    text           text not null,
    provenance     text,
    primary key (job_id, sentence_index)
) without rowid;

insert into job_sentences_new (job_id, sentence_index, chunk_index, page, text, provenance)
select job_id, sentence_index, chunk_index, page, text, provenance from job_sentences;

drop table job_sentences;
alter table job_sentences_new rename to job_sentences;

create trigger jobs_delete_sentences after delete on jobs
begin
    delete from job_sentences where job_id = old.id;
end;
