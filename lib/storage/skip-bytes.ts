// A Transform that drops the first N bytes of a stream: how a read reaches a byte offset when the
// bytes before it cannot be skipped by the source (gzip, the database chunk store). A stream that ends
// before N bytes is an error, not an empty rest: the offset was not this stream's.

import { Transform, type TransformCallback } from 'node:stream';
import { offsetPastEnd } from './stored-file-error.js';

export function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (left === 0) {
        callback(null, chunk);
        return;
      }
      if (chunk.length <= left) {
        left -= chunk.length;
        callback();
        return;
      }
      const rest = chunk.subarray(left);
      left = 0;
      callback(null, rest);
    },
    flush(callback: TransformCallback) {
      callback(left === 0 ? null : offsetPastEnd(count));
    },
  });
}
