// The one result every record mapper returns (readings, a site, a row error, or blank), and the sites
// mapper. Reading layouts live in layouts/. Never throws for bad data and never touches the database.

import type { SitesLayout } from './formats.js';
import type { Reading } from './layouts/layout.js';
import type { SiteType } from './values.js';
import {
  MAX_ADDRESS_CHARS,
  MAX_SITE_NAME_CHARS,
  parseFloorAreaM2,
  parseIsActive,
  parseLatitude,
  parseLongitude,
  parseOptionalId,
  parsePostcode,
  parseSiteType,
  parseText,
} from './values.js';

export type SiteRow = {
  name: string;
  companyId: number | null;
  regionId: number | null;
  address: string | null;
  postcode: string | null;
  siteType: SiteType;
  floorAreaM2: number | null;
  latitude: number | null;
  longitude: number | null;
  isActive: boolean;
};

/**
 * What one data record maps to: readings, a site, a row error, or `blank` (every cell is empty, as
 * spreadsheets export; skipped, and neither an error nor a processed row). The one result type of
 * every mapper, so the processor's row loop reads the same for every layout.
 */
export type MappedRecord =
  | { readonly kind: 'rows'; readonly rows: Reading[] }
  | { kind: 'site'; site: SiteRow }
  | { kind: 'error'; message: string }
  | { kind: 'blank' };

export type SiteRecordResult = Exclude<MappedRecord, { kind: 'rows' }>;

/**
 * Maps one record's fields. Fields are looked up by the header's positions: extra trailing fields are
 * ignored and missing trailing fields read as empty, so ragged rows are judged on their content.
 */
export type RecordMapper = (fields: readonly string[]) => MappedRecord;
export type SiteMapper = (fields: readonly string[]) => SiteRecordResult;

/** `Row N: message`, N being the 1-based data row (the header is not counted). */
export function formatRowError(rowNumber: number, message: string): string {
  return `Row ${rowNumber}: ${message}`;
}

const BLANK = { kind: 'blank' } as const;

function rowError(message: string): { kind: 'error'; message: string } {
  return { kind: 'error', message };
}

function cell(fields: readonly string[], index: number | null): string {
  return index === null ? '' : (fields[index] ?? '');
}

function isBlankRecord(fields: readonly string[]): boolean {
  return fields.every((field) => field.trim() === '');
}

export function compileSiteMapper(layout: SitesLayout): SiteMapper {
  const { columns } = layout;
  return (fields) => {
    const name = parseText(cell(fields, columns.name), 'site name', MAX_SITE_NAME_CHARS, true);
    if (!name.ok || name.value === null) {
      if (isBlankRecord(fields)) return BLANK;
      return rowError(name.ok ? 'Missing site name' : name.reason);
    }
    const companyId = parseOptionalId(cell(fields, columns.companyId), 'company_id');
    if (!companyId.ok) return rowError(companyId.reason);
    const regionId = parseOptionalId(cell(fields, columns.regionId), 'region_id');
    if (!regionId.ok) return rowError(regionId.reason);
    const address = parseText(cell(fields, columns.address), 'address', MAX_ADDRESS_CHARS, false);
    if (!address.ok) return rowError(address.reason);
    const postcode = parsePostcode(cell(fields, columns.postcode));
    if (!postcode.ok) return rowError(postcode.reason);
    const siteType = parseSiteType(cell(fields, columns.siteType));
    if (!siteType.ok) return rowError(siteType.reason);
    const floorArea = parseFloorAreaM2(cell(fields, columns.floorArea));
    if (!floorArea.ok) return rowError(floorArea.reason);
    const latitude = parseLatitude(cell(fields, columns.latitude));
    if (!latitude.ok) return rowError(latitude.reason);
    const longitude = parseLongitude(cell(fields, columns.longitude));
    if (!longitude.ok) return rowError(longitude.reason);
    const isActive = parseIsActive(cell(fields, columns.isActive));
    if (!isActive.ok) return rowError(isActive.reason);
    return {
      kind: 'site',
      site: {
        name: name.value,
        companyId: companyId.value,
        regionId: regionId.value,
        address: address.value,
        postcode: postcode.value,
        siteType: siteType.value,
        floorAreaM2: floorArea.value,
        latitude: latitude.value,
        longitude: longitude.value,
        isActive: isActive.value,
      },
    };
  };
}
