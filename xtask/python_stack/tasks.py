"""The original design's worker, as the seed describes it, for `cargo xtask bench pipeline
--python-stack`: a Celery task (prefork pool, Redis broker, acks late) that reads the upload
from PostgreSQL through a SQLAlchemy pool (pre-ping, hourly recycle), extracts each page's
text with pypdf, splits it into at most ten chunks and commits each chunk's sentences with
its progress ("Processing chunk 5/10") through a retrying "safe commit" (1 s, then 2 s).

Written here as a baseline to measure against; it is not part of pdfq.
"""

import io
import json
import os
import re
import time

from celery import Celery
from pypdf import PdfReader
from sqlalchemy import create_engine, text

DATABASE_URL = os.environ["BASELINE_DATABASE_URL"]
REDIS_URL = os.environ["BASELINE_REDIS_URL"]

app = Celery("pdfq_baseline", broker=REDIS_URL)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=25 * 60,
    task_time_limit=30 * 60,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)

engine = create_engine(
    DATABASE_URL, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=3600
)

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def safe_commit(conn):
    for delay in (1, 2, None):
        try:
            conn.commit()
            return
        except Exception:
            conn.rollback()
            if delay is None:
                raise
            time.sleep(delay)


@app.task(bind=True, max_retries=3)
def process_pdf(self, job_id):
    try:
        run(job_id)
    except Exception as e:  # as the seed does: the job is marked failed with the reason
        with engine.connect() as conn:
            conn.execute(
                text(
                    "update bl_jobs set status = 'failed', current_step = :why,"
                    " finished_at = now() where id = :id"
                ),
                {"id": job_id, "why": str(e)[:500]},
            )
            safe_commit(conn)


def run(job_id):
    with engine.connect() as conn:
        conn.execute(
            text(
                "update bl_jobs set status = 'processing', progress = 0,"
                " current_step = 'Starting', started_at = now() where id = :id"
            ),
            {"id": job_id},
        )
        safe_commit(conn)
        pdf = conn.execute(text("select pdf from bl_jobs where id = :id"), {"id": job_id}).scalar_one()
        reader = PdfReader(io.BytesIO(bytes(pdf)))
        conn.execute(
            text("update bl_jobs set current_step = 'Extracting text' where id = :id"),
            {"id": job_id},
        )
        safe_commit(conn)
        # PostgreSQL's jsonb refuses NUL characters, which some fonts' text holds.
        pages = [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]
        count = min(10, len(pages))
        per = -(-len(pages) // count) if count else 0
        chunks = [pages[i : i + per] for i in range(0, len(pages), per)] if count else []
        sentences = []
        for k, chunk in enumerate(chunks, start=1):
            found = [s.strip() for s in SENTENCE_END.split(" ".join(chunk)) if s.strip()]
            sentences.extend(found)
            conn.execute(
                text("insert into bl_chunks (job_id, idx, sentences) values (:id, :k, :s)"),
                {"id": job_id, "k": k, "s": json.dumps(found)},
            )
            conn.execute(
                text("update bl_jobs set progress = :p, current_step = :step where id = :id"),
                {"id": job_id, "p": int(99 * k / len(chunks)), "step": f"Processing chunk {k}/{len(chunks)}"},
            )
            safe_commit(conn)
        conn.execute(
            text(
                "update bl_jobs set status = 'completed', progress = 100,"
                " current_step = 'Completed', result = :r, finished_at = now() where id = :id"
            ),
            {"id": job_id, "r": json.dumps({"sentences": sentences})},
        )
        safe_commit(conn)
