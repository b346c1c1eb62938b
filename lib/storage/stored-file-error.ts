// The one error for an upload's bytes that cannot be read as stored: gone, replaced, or not gzip.
// Each is the file's fault, not a transient one, so the job fails without retries (as for a format error).

import { AppError } from '../errors.js';

export type StoredFileErrorCode = 'object-missing' | 'object-changed' | 'invalid-gzip';

export class StoredFileError extends AppError {
  constructor(
    readonly code: StoredFileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
