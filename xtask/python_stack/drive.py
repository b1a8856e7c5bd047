"""Runs the baseline Celery worker (tasks.py, prefork concurrency 2) on a throwaway database
and prints, for each set of PDFs given, jobs per second and wall and CPU time per job as
markdown rows `| python stack: LABEL ... | jobs/s; wall / CPU |` (CPU: the worker's whole
process tree, from /proc); the jobs of a set cycle through its files. A label starting with
"100-" gets a tenth of the jobs. Usage:
drive.py --admin-url URL --redis-url URL --jobs N "LABEL=FILE[,FILE...]"...
"""

import argparse
import os
import subprocess
import sys
import time
import uuid

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root):
    """utime + stime of `root` and every descendant still alive."""
    stats = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(pid)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK)
    total, frontier = 0.0, [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats:
            total += stats[pid][1]
        frontier.extend(child for child, (ppid, _) in stats.items() if ppid == pid)
    return total


def machine_cpu_seconds():
    """Busy CPU time of the whole machine (every process), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--admin-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("pdfs", nargs="+", help="LABEL=FILE[,FILE...]")
    args = parser.parse_args()

    name = f"pdfq_python_stack_{os.getpid()}"
    admin = psycopg2.connect(args.admin_url)
    admin.autocommit = True
    admin.cursor().execute(f"create database {name}")
    base = args.admin_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    db = psycopg2.connect(url)
    db.autocommit = True
    cur = db.cursor()
    cur.execute(
        "create table bl_jobs (id uuid primary key, status text not null, progress int,"
        " current_step text, pdf bytea not null, result jsonb, created_at timestamptz"
        " default now(), started_at timestamptz, finished_at timestamptz)"
    )
    cur.execute(
        "create table bl_chunks (job_id uuid references bl_jobs(id), idx int, sentences jsonb,"
        " primary key (job_id, idx))"
    )

    env = dict(os.environ)
    env["BASELINE_DATABASE_URL"] = url.replace("postgres://", "postgresql+psycopg2://", 1)
    redis_db = f"{args.redis_url.rstrip('/')}/7"
    env["BASELINE_REDIS_URL"] = redis_db
    sys.path.insert(0, HERE)
    os.environ.update(env)
    import tasks  # noqa: E402 (needs the environment above)

    tasks.app.connection_for_write().default_channel.client.flushdb()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork",
         "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while not tasks.app.control.ping(timeout=1.0):
            if time.time() > deadline:
                sys.exit("the Celery worker did not start within 60 s")
        specs = [spec.split("=", 1) for spec in args.pdfs]
        # Two jobs first warm both pool processes (connections), as pdfq's worker is warm.
        with open(specs[0][1].split(",")[0], "rb") as f:
            warm = f.read()
        warm_ids = [str(uuid.uuid4()) for _ in range(2)]
        for job_id in warm_ids:
            cur.execute("insert into bl_jobs (id, status, pdf) values (%s, 'pending', %s)",
                        (job_id, psycopg2.Binary(warm)))
            tasks.process_pdf.delay(job_id)
        while True:
            cur.execute("select count(*) from bl_jobs where status = 'completed'")
            if cur.fetchone()[0] == 2:
                break
            time.sleep(0.05)
        for label, paths in specs:
            pdfs = []
            for path in paths.split(","):
                with open(path, "rb") as f:
                    pdfs.append(f.read())
            jobs = max(5, args.jobs // 10) if label.startswith("100-") else args.jobs
            ids = [str(uuid.uuid4()) for _ in range(jobs)]
            cpu_before = tree_cpu_seconds(worker.pid)
            machine_before = machine_cpu_seconds()
            started = time.time()
            for k, job_id in enumerate(ids):
                cur.execute(
                    "insert into bl_jobs (id, status, pdf) values (%s, 'pending', %s)",
                    (job_id, psycopg2.Binary(pdfs[k % len(pdfs)])),
                )
                tasks.process_pdf.delay(job_id)
            while True:
                cur.execute(
                    "select count(*) filter (where status = 'failed'), count(*) from bl_jobs"
                    " where id = any(%s::uuid[]) and status in ('completed', 'failed')",
                    (ids,),
                )
                failed, ended = cur.fetchone()
                if ended == len(ids):
                    break
                if time.time() - started > 1800:
                    sys.exit("the baseline took too long")
                time.sleep(0.01)
            wall = time.time() - started
            cpu = tree_cpu_seconds(worker.pid) - cpu_before
            machine = machine_cpu_seconds() - machine_before
            if failed:
                cur.execute(
                    "select current_step from bl_jobs where id = any(%s::uuid[])"
                    " and status = 'failed' limit 1",
                    (ids,),
                )
                print(f"python stack: {label}: a job failed: {cur.fetchone()[0]}", file=sys.stderr)
            print(
                f"| python stack: {label} ({jobs} queued at once, {failed} failed): jobs per second;"
                f" wall / worker CPU / machine CPU per job | {jobs / wall:.1f};"
                f" {wall / jobs * 1000:.1f} ms / {cpu / jobs * 1000:.1f} ms"
                f" / {machine / jobs * 1000:.1f} ms |",
                flush=True,
            )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        db.close()
        admin.cursor().execute(f"drop database if exists {name} with (force)")


if __name__ == "__main__":
    main()
