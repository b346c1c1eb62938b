// Reads the S3 object-created notifications that the upload-events queue delivers: one SQS message per
// S3 notification, its body the notification's JSON. Pure: no I/O, no logging.

import type { ObjectArrival } from './upload-repository.js';

export type QueueMessage = { readonly messageId: string; readonly body: string };

export type ParsedMessage =
  | { readonly messageId: string; readonly kind: 'arrivals'; readonly arrivals: readonly ObjectArrival[] }
  /** s3:TestEvent (sent once when the notification is configured) and other non-object events. */
  | { readonly messageId: string; readonly kind: 'ignored'; readonly reason: string };

export function parseQueueMessage(message: QueueMessage): ParsedMessage {
  const ignored = (reason: string): ParsedMessage => ({
    messageId: message.messageId,
    kind: 'ignored',
    reason,
  });
  let notification: unknown;
  try {
    notification = JSON.parse(message.body);
  } catch {
    return ignored('body is not JSON');
  }
  if (!isObject(notification)) return ignored('body is not an object');
  if (notification.Event === 's3:TestEvent') return ignored('s3:TestEvent');
  if (!Array.isArray(notification.Records)) return ignored('no Records');
  const arrivals: ObjectArrival[] = [];
  for (const record of notification.Records) {
    const arrival = toArrival(record);
    if (arrival !== null) arrivals.push(arrival);
  }
  return { messageId: message.messageId, kind: 'arrivals', arrivals };
}

function toArrival(record: unknown): ObjectArrival | null {
  if (
    !isObject(record) ||
    typeof record.eventName !== 'string' ||
    !record.eventName.startsWith('ObjectCreated:')
  ) {
    return null;
  }
  const s3 = isObject(record.s3) ? record.s3 : {};
  const bucket = isObject(s3.bucket) ? s3.bucket.name : undefined;
  const object = isObject(s3.object) ? s3.object : {};
  if (typeof bucket !== 'string' || typeof object.key !== 'string') return null;
  const key = decodeEventKey(object.key);
  if (key === null) return null;
  return {
    bucket,
    key,
    etag: typeof object.eTag === 'string' ? object.eTag.replaceAll('"', '') : '',
    sizeBytes: typeof object.size === 'number' && Number.isSafeInteger(object.size) ? object.size : 0,
  };
}

/** S3 URL-encodes keys in notifications, with `+` for a space. */
export function decodeEventKey(key: string): string | null {
  try {
    return decodeURIComponent(key.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
