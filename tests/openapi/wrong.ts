// Mistakes `tsc --strict` must reject against the generated types; the test expects each line
// marked `@ts-expect-error` to be an error (tsc fails on an unused one), so the types are not
// `any` and a drift between this file and the document is caught.
import type { components, paths } from "./schema";

type Job = components["schemas"]["JobView"];
type UploadForm = paths["/api/v1/process-pdf-async"]["post"]["requestBody"]["content"]["multipart/form-data"];

export function mistakes(job: Job): void {
  // @ts-expect-error: "done" is not a job status
  const status: Job["status"] = "done";
  // @ts-expect-error: progress is a number
  const progress: string = job.progress;
  // @ts-expect-error: the file is binary, not a string
  const form: UploadForm = { file: "%PDF-1.4" };
  // @ts-expect-error: the login body needs a password
  const login: paths["/api/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"] = { email: "a@b.c" };
  console.log(status, progress, form, login);
}
