-- Where each sentence is drawn: its pages with their sizes and its line boxes, as one compact
-- text (a JSON array of numbers, see pdfq-store's provenance module) copied from the chunk it
-- was stored with. Null for sentences stored before: they have no boxes.
alter table job_sentences add column provenance text;
