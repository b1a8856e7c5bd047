// The frontend's main flow typed by the generated `paths`: register, log in, upload a PDF,
// follow the job, read its sentences. Only compiled (`tsc --strict`): a request or answer that
// does not match the document fails the build.
import type { components, operations, paths } from "./schema";

type Json<Op, Status extends number> = Op extends {
  responses: { [S in Status]: { content: { "application/json": infer B } } };
}
  ? B
  : never;

type Credentials = paths["/api/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"];
type Tokens = Json<paths["/api/v1/auth/login"]["post"], 200>;
type UploadForm = paths["/api/v1/process-pdf-async"]["post"]["requestBody"]["content"]["multipart/form-data"];
type Accepted = Json<paths["/api/v1/process-pdf-async"]["post"], 202>;
// By operationId too: the user's `get_job`, not the admin's `admin_get_job`.
type Job = Json<operations["get_job"], 200>;
type JobId = paths["/api/v1/jobs/{id}"]["get"]["parameters"]["path"]["id"];
type SentenceQuery = NonNullable<paths["/api/v1/jobs/{id}/sentences"]["get"]["parameters"]["query"]>;
type Sentences = Json<paths["/api/v1/jobs/{id}/sentences"]["get"], 200>;
type Failure = components["schemas"]["ErrorBody"];

const ended: ReadonlyArray<components["schemas"]["JobStatus"]> = ["completed", "failed", "cancelled"];

async function call<T>(base: string, path: string, init: RequestInit): Promise<T> {
  const response = await fetch(base + path, init);
  if (!response.ok) {
    const failure = (await response.json()) as Failure;
    throw new Error(`${failure.error.code}: ${failure.error.message}`);
  }
  return (await response.json()) as T;
}

export async function flow(base: string, pdf: Blob): Promise<string[]> {
  const credentials: Credentials = { email: "ts@example.com", password: "a long enough password" };
  const json = { "content-type": "application/json" };
  await call<unknown>(base, "/api/v1/auth/register", { method: "POST", headers: json, body: JSON.stringify(credentials) });
  const tokens = await call<Tokens>(base, "/api/v1/auth/login", { method: "POST", headers: json, body: JSON.stringify(credentials) });
  const auth = { authorization: `Bearer ${tokens.access_token}` };

  const form: UploadForm = { file: pdf };
  const body = new FormData();
  body.append("file", form.file, "story.pdf");
  const accepted = await call<Accepted>(base, "/api/v1/process-pdf-async", { method: "POST", headers: auth, body });
  const id: JobId = accepted.job_id;

  let job: Job = await call<Job>(base, `/api/v1/jobs/${id}`, { headers: auth });
  while (!ended.includes(job.status)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    job = await call<Job>(base, `/api/v1/jobs/${id}`, { headers: auth });
  }
  const percent: number = job.progress;
  console.log(`${job.file_name}: ${job.status} (${percent}%)`);

  const query: SentenceQuery = { page: 1, per_page: 100 };
  const page = await call<Sentences>(base, `/api/v1/jobs/${id}/sentences?page=${query.page}&per_page=${query.per_page}`, { headers: auth });
  return page.sentences.map((s) => `p${s.page}: ${s.text}`);
}
