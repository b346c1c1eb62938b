// The sites layout, unchanged: its header rules live in formats.ts and its record mapper in rows.ts;
// this only gives it a place in the registry.

import { detectLayout, FileFormatError } from '../formats.js';
import { compileSiteMapper } from '../rows.js';
import { type LayoutDefinition, type LayoutMiss, miss, type SitesLayoutPlan } from './layout.js';

function planSites(headers: readonly string[]): SitesLayoutPlan | LayoutMiss {
  try {
    const layout = detectLayout('sites', headers);
    return {
      kind: 'sites',
      name: 'sites',
      importType: 'sites',
      columnMapping: layout.columnMapping,
      compile: () => compileSiteMapper(layout),
    };
  } catch (error) {
    if (!(error instanceof FileFormatError)) throw error;
    return miss('CSV must include a site name column (name or site_name)', error.code);
  }
}

export const sitesLayout: LayoutDefinition = {
  name: 'sites',
  importType: 'sites',
  exampleHeader:
    'name,company_id,region_id,address,postcode,site_type,floor_area,latitude,longitude,is_active',
  match: planSites,
};
