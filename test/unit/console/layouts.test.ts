import { describe, expect, it } from 'vitest';
import { LAYOUT_OPTIONS } from '../../../console/src/layouts.js';
import { layoutNamesFor } from '../../../lib/imports/layouts/registry.js';

describe("the console's layout choices", () => {
  it('offer exactly the layouts the API accepts as format, per import type, in its order', () => {
    for (const type of ['hh', 'daily', 'sites'] as const) {
      expect(LAYOUT_OPTIONS[type]?.map((option) => option.name)).toEqual(layoutNamesFor(type));
    }
    expect(Object.keys(LAYOUT_OPTIONS).sort()).toEqual(['daily', 'hh', 'sites']);
  });
});
