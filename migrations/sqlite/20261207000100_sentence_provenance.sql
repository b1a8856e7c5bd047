-- The same as migrations/postgres: each sentence's pages with their sizes and its line boxes,
-- as one compact text; null for sentences stored before.
alter table job_sentences add column provenance text;
