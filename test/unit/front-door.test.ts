import { describe, expect, it } from 'vitest';
import { withheldBecause } from '../../scripts/front-door.js';

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const REPO = '/home/someone/eclectyc';

describe('withheldBecause (the local front door)', () => {
  it("withholds serverless-offline's report of a failed function, naming its type and message", () => {
    const body = Buffer.from(
      JSON.stringify({ errorMessage: 'Cannot find module', errorType: 'Error', stackTrace: ['at x'] }),
    );
    expect(withheldBecause(502, JSON_TYPE, body, [REPO])).toBe(
      'the function failed: Error: Cannot find module',
    );
  });

  it('withholds any response naming the repository path, JSON or not', () => {
    const body = Buffer.from(`failed at ${REPO}/lib/db.ts:12`);
    expect(withheldBecause(200, { 'content-type': 'text/plain' }, body, [REPO])).toBe(
      'a 200 response naming a server path',
    );
  });

  it("passes the handler's own responses: errors, and a page of readings without parsing concerns", () => {
    const error = Buffer.from('{"error":"Import job not found"}');
    expect(withheldBecause(404, JSON_TYPE, error, [REPO])).toBeUndefined();
    const readings = Array.from({ length: 10_000 }, (_, index) => ({ period: index % 48, kwh: '0.1234' }));
    const page = Buffer.from(JSON.stringify({ readings, next_cursor: null }));
    expect(withheldBecause(200, JSON_TYPE, page, [REPO])).toBeUndefined();
    // A value that merely mentions a key is not a failure report.
    const mention = Buffer.from('{"note":"errorType is a field name"}');
    expect(withheldBecause(200, JSON_TYPE, mention, [REPO])).toBeUndefined();
  });
});
