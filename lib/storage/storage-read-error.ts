// A transient failure reading an upload from S3 (a refused or reset connection, a timeout, a 5xx):
// retried like any transient error, but reported as storage's, never mistaken for the database's
// (Node's network errors carry a `code` just as mysql2's do).

import { AppError } from '../errors.js';

export class StorageReadError extends AppError {
  constructor(options: { cause: unknown }) {
    super('Reading the uploaded file from storage failed', options);
  }
}
