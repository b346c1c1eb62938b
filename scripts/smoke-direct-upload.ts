// `npm run smoke`'s direct-upload step: asks the API for an upload, POSTs the file as the multipart
// form a browser or curl sends to the URL it answers (the local S3 endpoint under `npm start`), and
// waits until the object-created event has queued the job. The smoke's usual checks then apply to it.

/** The smoke's `api(method, path)`: a request with its bearer token, the JSON body parsed. */
export type SmokeApi = (
  method: string,
  path: string,
) => Promise<{ readonly status: number; readonly body: Record<string, unknown> }>;

/** Returns the job's batch id once it left awaiting_upload; throws, naming the step, otherwise. */
export async function uploadDirectly(
  api: SmokeApi,
  file: Buffer,
  query: string,
  timeoutMs = 15_000,
): Promise<string> {
  const asked = await api('POST', `/api/import/uploads?${query}`);
  const upload = asked.body.upload;
  if (asked.status !== 201 || !isUploadForm(upload)) {
    throw new Error(`POST /api/import/uploads answered ${asked.status}: ${JSON.stringify(asked.body)}`);
  }
  const batchId = String(asked.body.batch_id);
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append('file', new Blob([file]), 'upload.csv');
  const posted = await fetch(upload.url, { method: 'POST', body: form });
  if (!posted.ok) throw new Error(`the upload to ${upload.url} answered ${posted.status}`);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await api('GET', `/api/import/jobs/${batchId}`);
    if (job.status === 200 && job.body.status !== 'awaiting_upload') return batchId;
    if (Date.now() > until) {
      throw new Error(
        `job ${batchId} still awaits its upload after ${timeoutMs} ms: no object-created event?`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function isUploadForm(value: unknown): value is { url: string; fields: Record<string, string> } {
  if (typeof value !== 'object' || value === null) return false;
  const { url, fields } = value as { url?: unknown; fields?: unknown };
  return (
    typeof url === 'string' &&
    typeof fields === 'object' &&
    fields !== null &&
    Object.values(fields).every((field) => typeof field === 'string')
  );
}
