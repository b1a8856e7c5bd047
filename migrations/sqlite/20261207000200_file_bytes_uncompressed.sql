-- PostgreSQL only (job_files.content stored uncompressed there); SQLite never compresses.
select 1;
