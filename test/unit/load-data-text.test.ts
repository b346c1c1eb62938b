import { describe, expect, it } from 'vitest';
import { LoadDataText } from '../../lib/imports/reading-repository.js';

describe('LoadDataText', () => {
  it('writes fields, separators and the NULL marker as LOAD DATA reads them', () => {
    const text = new LoadDataText(4);
    text.field('17');
    text.separator(9);
    text.nullMarker();
    text.separator(9);
    text.field('2025-10-26 01:00:00');
    text.separator(10);
    expect(text.bytes().toString('latin1')).toBe('17\t\\N\t2025-10-26 01:00:00\n');
  });

  it('grows past its first capacity without losing what it holds', () => {
    const text = new LoadDataText(8);
    const lines = Array.from({ length: 500 }, (_, i) => `${i}.1234`);
    for (const line of lines) {
      text.field(line);
      text.separator(10);
    }
    expect(text.bytes().toString('latin1')).toBe(lines.map((line) => `${line}\n`).join(''));
  });

  it.each([
    ['a tab', 'a\tb'],
    ['a backslash', 'a\\b'],
    ['a carriage return', 'a\rb'],
    ['DEL', 'a\u007fb'],
    ['a non-ASCII letter', 'café'],
  ])('refuses a field holding %s', (_case, value) => {
    const text = new LoadDataText(64);
    expect(() => text.field(value)).toThrow('A reading field holds a character LOAD DATA would misread');
  });
});
