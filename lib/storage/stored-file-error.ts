// The one error for an upload's bytes that cannot be read as stored: gone, replaced, not gzip, or
// shorter than the byte offset a resumed job's checkpoint reached.
// Each is the file's fault, not a transient one, so the job fails without retries (as for a format error).

import { AppError } from '../errors.js';

export type StoredFileErrorCode = 'object-missing' | 'object-changed' | 'invalid-gzip' | 'offset-past-end';

/** The file ends before the checkpoint's offset: reading "nothing left" there would drop rows silently. */
export function offsetPastEnd(offset: number): StoredFileError {
  return new StoredFileError(
    'offset-past-end',
    `The file ends before byte ${offset}, where the job's checkpoint had reached: it is not the file the job started with`,
  );
}

export class StoredFileError extends AppError {
  constructor(
    readonly code: StoredFileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
