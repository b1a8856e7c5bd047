"""The main flow through the client openapi-python-client generated from the document:
register, log in, upload a PDF, poll the job until it ends, read its sentences.

    python flow.py BASE_URL PDF_PATH EXPECTED_TEXT

The generated package (`pdfq_api_client`) must be importable. Exits non-zero, saying why,
when a step answers anything but what the document promises.
"""

import io
import sys
import time

from pdfq_api_client import AuthenticatedClient, Client
from pdfq_api_client.api.auth import login, register
from pdfq_api_client.api.jobs import get_job, sentences, upload
from pdfq_api_client.models import (
    Credentials,
    JobStatus,
    JobView,
    RegisteredUser,
    SentencePage,
    TokenPair,
    UploadAccepted,
    UploadForm,
)
from pdfq_api_client.types import File

ENDED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def expect(value, kind, step):
    if not isinstance(value, kind):
        sys.exit(f"{step}: expected {kind.__name__}, got {value!r}")
    return value


def main(base_url, pdf_path, expected_text):
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    credentials = Credentials(email="python-client@example.com", password="a long enough password")
    expect(register.sync(client=anonymous, body=credentials), RegisteredUser, "register")
    tokens = expect(login.sync(client=anonymous, body=credentials), TokenPair, "login")

    client = AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)
    with open(pdf_path, "rb") as pdf:
        form = UploadForm(file=File(payload=io.BytesIO(pdf.read()), file_name="story.pdf", mime_type="application/pdf"))
    accepted = expect(upload.sync(client=client, body=form), UploadAccepted, "upload")
    print(f"accepted {accepted.job_id} ({accepted.status.value})")

    deadline = time.monotonic() + 60
    job = expect(get_job.sync(accepted.job_id, client=client), JobView, "job status")
    while job.status not in ENDED:
        if time.monotonic() > deadline:
            sys.exit(f"the job did not end within 60 s: {job.status.value}, {job.progress}%")
        time.sleep(0.2)
        job = expect(get_job.sync(accepted.job_id, client=client), JobView, "job status")
    if job.status != JobStatus.COMPLETED:
        sys.exit(f"the job ended {job.status.value}: {job.error!r}")

    page = expect(sentences.sync(job.job_id, client=client, page=1, per_page=100), SentencePage, "sentences")
    text = " ".join(item.text for item in page.sentences)
    if expected_text not in text or page.total != len(page.sentences):
        sys.exit(f"sentences: {expected_text!r} not in {text!r} (total {page.total})")
    print(f"{page.total} sentences, last on page {page.sentences[-1].page}")


if __name__ == "__main__":
    main(*sys.argv[1:])
