-- What a completed job could not read (pages of a damaged or truncated file): a JSON array of
-- {"page": n or null for the whole file, "message": "..."}, null when there is nothing to say.
-- Text in both dialects: it is read back whole with the job and never queried inside.
alter table jobs add column warnings text;
