// How the processor writes readings, shared by the config that chooses it and the processor that
// obeys it: multi-row INSERT … ON DUPLICATE KEY UPDATE, the server's bulk path (LOAD DATA LOCAL from
// an in-memory stream), or 'auto': the bulk path when the server allows it.

export const WRITE_MODES = ['auto', 'insert', 'load'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];
