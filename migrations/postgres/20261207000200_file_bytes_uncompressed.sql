-- PDFs are compressed already: PostgreSQL's pglz compression of each upload (and decompression
-- at every read) cost CPU for nothing. EXTERNAL keeps the bytes out of line, uncompressed.
alter table job_files alter column content set storage external;
