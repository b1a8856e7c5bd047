-- A file larger than one part is written to the bucket as a multipart upload. Its id is kept
-- with the object's row so that the sweeper can abort an upload a dead process left unfinished:
-- its parts are not an object yet, and deleting the key would not remove them.
alter table stored_files add column upload_id text;
