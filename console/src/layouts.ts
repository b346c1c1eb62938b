// The layouts each import type offers, as the upload's `format` parameter names them, with a hint of
// the header row each reads (docs/formats.md#layouts-and-uk-time). The API's registry is the source:
// test/unit/console/layouts.test.ts keeps this list in step with layoutNamesFor().

export type LayoutOption = { readonly name: string; readonly headers: string };

export const LAYOUT_OPTIONS: Readonly<Record<string, readonly LayoutOption[]>> = {
  hh: [
    { name: 'hh-matrix', headers: 'MPAN, Date, HH01…HH50' },
    { name: 'hh-matrix-flags', headers: 'HH01, Type, HH02, Type…' },
    { name: 'hh-time', headers: '00:00, 00:30…23:30' },
    { name: 'hh-time-flags', headers: '00:00, Type…' },
    { name: 'hh-time-end', headers: '00:30…24:00' },
    { name: 'hh-time-end-flags', headers: '00:30, Type…24:00' },
    { name: 'hh-interval', headers: 'MPAN, ReadDateTime, ReadValue' },
    { name: 'hh-settlement', headers: 'MPANCore, Sett Date, Sett Period' },
    { name: 'hh-octopus', headers: 'Consumption (kwh), Start, End: name the meter' },
  ],
  daily: [{ name: 'daily', headers: 'MPAN, Date, Reading' }],
  sites: [{ name: 'sites', headers: 'name, postcode…' }],
};
