import { describe, expect, it } from 'vitest';
import type { Unit } from '../../../lib/imports/values.js';
import {
  meterTypeOf,
  parseDate,
  parseDateTime,
  parseFloorAreaM2,
  parseIsActive,
  parseLatitude,
  parseLongitude,
  parseMeterCode,
  parseOptionalId,
  parsePostcode,
  parseReadingKwh,
  parseReadingType,
  parseSiteType,
  parseText,
  parseTime,
  parseTimestamp,
  parseUnit,
  quoteValue,
  scaleDecimal,
} from '../../../lib/imports/values.js';

describe('parseDate', () => {
  it.each([
    ['09/11/2024', '2024-11-09'],
    ['9/1/2024', '2024-01-09'],
    ['09-11-2024', '2024-11-09'],
    ['2024-11-09', '2024-11-09'],
    ['2024-1-9', '2024-01-09'],
    [' 29/02/2024 ', '2024-02-29'],
    ['29/02/2000', '2000-02-29'],
    ['01/01/1900', '1900-01-01'],
    ['31/12/2100', '2100-12-31'],
    ['2024-11-09T00:00:00Z', '2024-11-09'],
    ['09/11/2024 00:00', '2024-11-09'],
    ['09/11/24', '2024-11-09'],
    ['26/10/25', '2025-10-26'],
    ['26-Oct-2025', '2025-10-26'],
    ['26 Oct 2025', '2025-10-26'],
    ['30-mar-25', '2025-03-30'],
    ['1 September 2025', '2025-09-01'],
    ['1-Sept-2025', '2025-09-01'],
    ['26-Oct-2025 00:00', '2025-10-26'],
  ])('reads %j day first as %s', (text, expected) => {
    expect(parseDate(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['31/02/2024'],
    ['08/30/2024'],
    ['01/13/2024'],
    ['00/01/2024'],
    ['29/02/2023'],
    ['29/02/1900'],
    ['31/04/2024'],
    ['2024-02-30'],
    ['01/01/1899'],
    ['01/01/2101'],
    [''],
    ['tomorrow'],
    ['09/11-2024'],
    ['30/02/25'],
    ['09-11-24'],
    ['26-Oct 2025'],
    ['26-Okt-2025'],
    ['31-Sep-2025'],
    ['26-Oct-202'],
    ['09/11/2024 00:30'],
    ['2024-11-09T12:00:00'],
    ['45605'],
  ])('rejects %j instead of rolling it over', (text) => {
    expect(parseDate(text).ok).toBe(false);
  });

  it('names the impossible date in its reason', () => {
    expect(parseDate('31/02/2024')).toEqual({ ok: false, reason: 'Impossible date "31/02/2024"' });
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2025-10-26T01:00:00+01:00', '2025-10-26', 1, 0, 60],
    ['2025-10-26T01:00:00+00:00', '2025-10-26', 1, 0, 0],
    ['2025-10-26T01:00:00Z', '2025-10-26', 1, 0, 0],
    ['2025-10-26T01:00:00.000Z', '2025-10-26', 1, 0, 0],
    ['2025-10-26 01:30 +0100', '2025-10-26', 1, 30, 60],
    ['2025-07-01T09:00:00-05', '2025-07-01', 9, 0, -300],
    ['2025-07-01T09:00:00-05:30', '2025-07-01', 9, 0, -330],
    ['2025-07-01T09:00:00-00:00', '2025-07-01', 9, 0, 0],
    ['2025-07-01 09:00:00+14:00', '2025-07-01', 9, 0, 840],
    ['2025-07-01T09:00:00z', '2025-07-01', 9, 0, 0],
    ['26/10/2025 01:30:00Z', '2025-10-26', 1, 30, 0],
    ['2025-10-26 01:30:00', '2025-10-26', 1, 30, null],
    ['26-Oct-2025 01:30', '2025-10-26', 1, 30, null],
    ['26 Oct 2025 01:30', '2025-10-26', 1, 30, null],
    ['26-10-2025 01:30', '2025-10-26', 1, 30, null],
    ['26/10/25 23:30', '2025-10-26', 23, 30, null],
  ])('reads %j with its offset', (text, date, hour, minute, offsetMinutes) => {
    expect(parseTimestamp(text)).toEqual({
      ok: true,
      value: { date, time: { hour, minute, second: 0 }, offsetMinutes },
    });
  });

  it('does not mistake a day-first year for an offset', () => {
    expect(parseTimestamp('26-10-2025')).toEqual({
      ok: true,
      value: { date: '2025-10-26', time: { hour: 0, minute: 0, second: 0 }, offsetMinutes: null },
    });
  });

  it.each([
    '2025-10-26T01:00:00+15:00',
    '2025-10-26T01:00:00+14:01',
    '2025-10-26T01:00:00*01:00',
    '2025-10-26T01:00:00+01:60',
    '2025-10-26T25:00:00Z',
    'Z',
    '+01:00',
  ])('rejects %j', (text) => {
    expect(parseTimestamp(text).ok).toBe(false);
  });
});

describe('parseDateTime', () => {
  it.each([
    ['2024-11-09 00:30:00', '2024-11-09', 0, 30, 0],
    ['2024-11-09 00:30', '2024-11-09', 0, 30, 0],
    ['2024-11-09 7:05', '2024-11-09', 7, 5, 0],
    ['09/11/2024 23:30', '2024-11-09', 23, 30, 0],
    ['9/11/2024 23:30:15', '2024-11-09', 23, 30, 15],
    ['09-11-2024 13:00:00', '2024-11-09', 13, 0, 0],
    ['2024-11-09T00:30:00', '2024-11-09', 0, 30, 0],
    ['2024-11-09T00:30:00.000Z', '2024-11-09', 0, 30, 0],
    ['2024-11-09T00:30:00+01:00', '2024-11-09', 0, 30, 0],
    ['2024-11-09T23:30:00-0500', '2024-11-09', 23, 30, 0],
    ['2024-11-09 00:30:00Z', '2024-11-09', 0, 30, 0],
    ['2024-11-09', '2024-11-09', 0, 0, 0],
    ['09/11/2024', '2024-11-09', 0, 0, 0],
    ['  2024-11-09   00:30 ', '2024-11-09', 0, 30, 0],
  ])('reads %j as wall-clock time, keeping any offset’s local time', (text, date, hour, minute, second) => {
    expect(parseDateTime(text)).toEqual({ ok: true, value: { date, time: { hour, minute, second } } });
  });

  it.each([
    ['2024-11-09 24:00:00'],
    ['2024-11-09 23:60'],
    ['2024-11-09 23:59:60'],
    ['2024-02-30 00:00'],
    ['08/30/2024 00:30'],
    ['09/11/2024T00:30'],
    ['2024-11-09 00:30 PM'],
    ['2024-11-09 x'],
    ['1e3'],
    [''],
  ])('rejects %j', (text) => {
    expect(parseDateTime(text).ok).toBe(false);
  });
});

describe('parseTime', () => {
  it.each([
    ['00:00', '00:00:00'],
    ['0:30', '00:30:00'],
    ['23:30', '23:30:00'],
    ['23:59:59', '23:59:59'],
    ['07:15:30.250', '07:15:30'],
    ['30:00.0', '00:30:00'],
    ['59:59.9', '00:59:59'],
    ['24:00.0', '00:24:00'],
    ['00:00.0', '00:00:00'],
    ['0.020833', '00:30:00'],
    ['0.020834', '00:30:00'],
    ['0.5', '12:00:00'],
    ['.75', '18:00:00'],
    ['0', '00:00:00'],
    ['0.979166', '23:30:00'],
  ])('reads %j as %s', (text, expected) => {
    expect(parseTime(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['24:00'],
    ['30:00'],
    ['25:00:00'],
    ['12:60'],
    ['12:30:60'],
    ['60:00.0'],
    ['1'],
    ['1.5'],
    ['0.99999'],
    ['-0.5'],
    ['noon'],
    [''],
  ])('rejects %j', (text) => {
    expect(parseTime(text).ok).toBe(false);
  });
});

describe('scaleDecimal and parseReadingKwh', () => {
  it.each<[string, Unit, string]>([
    ['5.6', 'kWh', '5.6'],
    ['5.6', 'Wh', '0.0056'],
    ['5600', 'Wh', '5.6'],
    ['0.0012', 'MWh', '1.2'],
    ['1.23456', 'kWh', '1.2346'],
    ['1.23455', 'kWh', '1.2346'],
    ['1.23454', 'kWh', '1.2345'],
    ['0.00005', 'kWh', '0.0001'],
    ['0.00004', 'kWh', '0'],
    ['0.4', 'Wh', '0.0004'],
    ['0.04', 'Wh', '0'],
    ['007.50', 'kWh', '7.5'],
    ['+3', 'kWh', '3'],
    ['.5', 'kWh', '0.5'],
    ['5.', 'kWh', '5'],
    ['0', 'kWh', '0'],
    ['-0', 'kWh', '0'],
    ['-0.000', 'kWh', '0'],
    ['1.5E-05', 'kWh', '0'],
    ['1.5E-03', 'kWh', '0.0015'],
    ['2e3', 'Wh', '2'],
    ['99999999.9999', 'kWh', '99999999.9999'],
    ['99999999999.9', 'Wh', '99999999.9999'],
    [' 12 ', 'kWh', '12'],
    ['0.1', 'kWh', '0.1'],
    ['0.30000000000000004', 'kWh', '0.3'],
  ])('converts %j %s to %s kWh without float drift', (text, unit, expected) => {
    expect(parseReadingKwh(text, unit)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['', 'Missing reading value'],
    ['   ', 'Missing reading value'],
    ['abc', 'Non-numeric reading value "abc"'],
    ['NaN', 'Non-numeric reading value "NaN"'],
    ['Infinity', 'Non-numeric reading value "Infinity"'],
    ['0x1F', 'Non-numeric reading value "0x1F"'],
    ['1,234', 'Non-numeric reading value "1,234"'],
    ['1 234', 'Non-numeric reading value "1 234"'],
    ['.', 'Non-numeric reading value "."'],
    ['1e', 'Non-numeric reading value "1e"'],
    ['=1+2', 'Non-numeric reading value "=1+2"'],
    ['-1', 'Negative reading value "-1"'],
    ['-0.5', 'Negative reading value "-0.5"'],
    ['100000000', 'Out-of-range reading value "100000000" (must be below 100000000 kWh)'],
    ['99999999.99995', 'Out-of-range reading value "99999999.99995" (must be below 100000000 kWh)'],
    ['1e308', 'Out-of-range reading value "1e308" (must be below 100000000 kWh)'],
    ['1e99999999999', 'Out-of-range reading value "1e99999999999" (must be below 100000000 kWh)'],
  ])('rejects %j with %j', (text, reason) => {
    expect(parseReadingKwh(text, 'kWh')).toEqual({ ok: false, reason });
  });

  it('rejects a value that only overflows after converting MWh to kWh', () => {
    expect(parseReadingKwh('100000', 'MWh').ok).toBe(false);
    expect(parseReadingKwh('99999.9999999', 'MWh')).toEqual({ ok: true, value: '99999999.9999' });
  });

  it('reads a vanishingly small exponent as zero', () => {
    expect(scaleDecimal('1e-99999999999', 0)).toEqual({ ok: true, value: '0' });
  });

  it('truncates a huge echoed value to 40 characters', () => {
    const parsed = parseReadingKwh(`x${'9'.repeat(1_000_000)}`, 'kWh');
    expect(parsed).toEqual({ ok: false, reason: `Non-numeric reading value "x${'9'.repeat(39)}…"` });
  });
});

describe('parseUnit', () => {
  it.each([
    ['kWh', 'kWh'],
    ['KWH', 'kWh'],
    ['', 'kWh'],
    [' wh ', 'Wh'],
    ['Wh', 'Wh'],
    ['MWh', 'MWh'],
    ['mwh', 'MWh'],
  ])('reads %j as %s', (text, expected) => {
    expect(parseUnit(text)).toEqual({ ok: true, value: expected });
  });

  it('reads an empty unit as the given default', () => {
    expect(parseUnit('', 'Wh')).toEqual({ ok: true, value: 'Wh' });
  });

  it.each([['kW'], ['therms'], ['m3'], ['GWh']])('rejects %j as an unknown unit', (text) => {
    expect(parseUnit(text)).toEqual({ ok: false, reason: `Unknown unit "${text}"` });
  });
});

describe('parseReadingType', () => {
  it.each([
    ['A', 'actual'],
    ['a', 'actual'],
    ['Actual', 'actual'],
    ['', 'actual'],
    ['E', 'estimated'],
    ['estimated', 'estimated'],
    [' ESTIMATED ', 'estimated'],
  ])('reads %j as %s', (text, expected) => {
    expect(parseReadingType(text)).toEqual({ ok: true, value: expected });
  });

  it('rejects any other value', () => {
    expect(parseReadingType('X')).toEqual({ ok: false, reason: 'Unknown reading type "X"' });
  });
});

describe('parseMeterCode', () => {
  it.each([
    ['E06BG12862', 'E06BG12862'],
    ['  1200012345678 ', '1200012345678'],
    ['00 801 1234567890123', '00 801 1234567890123'],
    ['M-12_34/5', 'M-12_34/5'],
  ])('accepts %j', (text, expected) => {
    expect(parseMeterCode(text)).toEqual({ ok: true, value: expected });
  });

  it('reports an empty code as "Missing MPAN"', () => {
    expect(parseMeterCode('   ')).toEqual({ ok: false, reason: 'Missing MPAN' });
  });

  it('rejects a code longer than 50 characters', () => {
    expect(parseMeterCode('A'.repeat(51))).toEqual({
      ok: false,
      reason: `Meter code "${'A'.repeat(40)}…" is longer than 50 characters`,
    });
    expect(parseMeterCode('A'.repeat(50)).ok).toBe(true);
  });

  it.each([
    ["=cmd|' /C calc'!A0"],
    ['+SUM(A1:A2)'],
    ['@SUM(1)'],
    ["E1'; DROP TABLE meters; --"],
    ['1 OR 1=1'],
    ['1.2345E+12'],
    ['E06\tBG'],
    ['É06'],
  ])('rejects %j, which is not a plain meter code', (text) => {
    const parsed = parseMeterCode(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toMatch(/may only hold letters, digits, spaces/);
  });
});

describe('meterTypeOf', () => {
  it('classes codes starting with M as gas and others as electricity', () => {
    expect(meterTypeOf('M12345678')).toBe('gas');
    expect(meterTypeOf('m12345678')).toBe('gas');
    expect(meterTypeOf('E06BG12862')).toBe('electricity');
    expect(meterTypeOf('1200012345678')).toBe('electricity');
  });
});

describe('site values', () => {
  it.each([
    ['1', true],
    ['TRUE', true],
    ['yes', true],
    ['Active', true],
    ['', true],
    ['0', false],
    ['false', false],
    ['No', false],
    ['inactive', false],
  ])('reads is_active %j as %s', (text, expected) => {
    expect(parseIsActive(text)).toEqual({ ok: true, value: expected });
  });

  it('rejects an is_active typo instead of deactivating the site', () => {
    expect(parseIsActive('ture')).toEqual({ ok: false, reason: 'Invalid is_active value "ture"' });
  });

  it('reads site types case-insensitively with office as the default', () => {
    expect(parseSiteType('Warehouse')).toEqual({ ok: true, value: 'warehouse' });
    expect(parseSiteType('')).toEqual({ ok: true, value: 'office' });
    expect(parseSiteType('spaceship')).toEqual({ ok: false, reason: 'Unknown site type "spaceship"' });
  });

  it('accepts coordinates within range and rejects others', () => {
    expect(parseLatitude('51.501')).toEqual({ ok: true, value: 51.501 });
    expect(parseLatitude('-90')).toEqual({ ok: true, value: -90 });
    expect(parseLatitude('')).toEqual({ ok: true, value: null });
    expect(parseLatitude('90.1')).toEqual({ ok: false, reason: 'Out-of-range latitude "90.1"' });
    expect(parseLongitude('-180')).toEqual({ ok: true, value: -180 });
    expect(parseLongitude('180.5')).toEqual({ ok: false, reason: 'Out-of-range longitude "180.5"' });
    expect(parseLongitude('1e2')).toEqual({ ok: false, reason: 'Non-numeric longitude "1e2"' });
  });

  it('accepts a non-negative floor area only', () => {
    expect(parseFloorAreaM2('1250.5')).toEqual({ ok: true, value: 1250.5 });
    expect(parseFloorAreaM2('0')).toEqual({ ok: true, value: 0 });
    expect(parseFloorAreaM2('-1')).toEqual({ ok: false, reason: 'Out-of-range floor_area "-1"' });
    expect(parseFloorAreaM2('100000000')).toEqual({
      ok: false,
      reason: 'Out-of-range floor_area "100000000"',
    });
  });

  it('accepts positive integer ids or empty', () => {
    expect(parseOptionalId('42', 'company_id')).toEqual({ ok: true, value: 42 });
    expect(parseOptionalId('', 'company_id')).toEqual({ ok: true, value: null });
    expect(parseOptionalId('0', 'company_id')).toEqual({ ok: false, reason: 'Invalid company_id "0"' });
    expect(parseOptionalId('1.5', 'region_id')).toEqual({ ok: false, reason: 'Invalid region_id "1.5"' });
    expect(parseOptionalId('2147483648', 'region_id').ok).toBe(false);
  });

  it('limits text length in characters, not UTF-16 units', () => {
    expect(parseText('😀'.repeat(255), 'site name', 255, true)).toEqual({
      ok: true,
      value: '😀'.repeat(255),
    });
    expect(parseText('a'.repeat(256), 'site name', 255, true)).toEqual({
      ok: false,
      reason: 'site name is longer than 255 characters',
    });
    expect(parseText('  ', 'site name', 255, true)).toEqual({ ok: false, reason: 'Missing site name' });
    expect(parseText('  ', 'address', 500, false)).toEqual({ ok: true, value: null });
  });

  it('normalises postcodes to upper case with single spaces and limits them to 16 characters', () => {
    expect(parsePostcode(' ls11  5at ')).toEqual({ ok: true, value: 'LS11 5AT' });
    expect(parsePostcode('')).toEqual({ ok: true, value: null });
    expect(parsePostcode('X'.repeat(17)).ok).toBe(false);
  });
});

describe('quoteValue', () => {
  it('replaces control characters and cuts long values', () => {
    expect(quoteValue('a\r\nb')).toBe('"a  b"');
    expect(quoteValue('x'.repeat(41))).toBe(`"${'x'.repeat(40)}…"`);
  });

  it('never cuts a surrogate pair in half', () => {
    expect(quoteValue(`${'x'.repeat(39)}😀y`)).toBe(`"${'x'.repeat(39)}…"`);
  });
});
