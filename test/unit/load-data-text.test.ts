import { describe, expect, it } from 'vitest';
import { LoadDataText } from '../../lib/imports/reading-repository.js';

describe('LoadDataText', () => {
  it('writes a line as LOAD DATA reads it: tab-separated, NULL as \\N, a line feed at the end', () => {
    const text = new LoadDataText(4);
    text.line([17, 'hh', '2025-10-26 01:00:00', null, '0.1250']);
    expect(text.bytes().toString('latin1')).toBe('17\thh\t2025-10-26 01:00:00\t\\N\t0.1250\n');
  });

  it('writes only the first `count` values of a line', () => {
    const text = new LoadDataText(64);
    text.line([1, 'hh', 'left out'], 2);
    expect(text.bytes().toString('latin1')).toBe('1\thh\n');
  });

  it('refuses a line with fewer values than it is asked to write', () => {
    expect(() => new LoadDataText(64).line([1, 'hh'], 3)).toThrow('A LOAD DATA line has 2 of 3 values');
  });

  it('grows past its first capacity without losing what it holds', () => {
    const text = new LoadDataText(8);
    const values = Array.from({ length: 500 }, (_, i) => `${i}.1234`);
    for (const value of values) text.line([value]);
    expect(text.bytes().toString('latin1')).toBe(values.map((value) => `${value}\n`).join(''));
  });

  it.each([
    ['a tab', 'a\tb'],
    ['a line feed', 'a\nb'],
    ['a backslash', 'a\\b'],
    ['a carriage return', 'a\rb'],
    ['DEL', 'a\u007fb'],
    ['a non-ASCII letter', 'café'],
  ])('refuses a field holding %s', (_case, value) => {
    expect(() => new LoadDataText(64).line([value])).toThrow(
      'A reading field holds a character LOAD DATA would misread',
    );
  });
});
