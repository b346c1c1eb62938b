// Every link to a section of a document (`docs/design.md#time-model` in a comment, `[x](api.md#cors)` or
// `[x](#decisions)` in markdown) names a document and a heading that exist, by GitHub's slug rules.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED = [
  'lib',
  'functions',
  'scripts',
  'bench',
  'migrations',
  'test',
  'docs',
  'serverless.yml',
  'README.md',
];
// Hostile inputs are data, not prose; this file's own examples are broken on purpose.
const SKIPPED = new Set(['test/fixtures', 'test/unit/doc-anchors.test.ts']);
const TEXT_FILE = /\.(ts|js|mjs|cjs|sql|ya?ml|md|sh|json)$/;

/** GitHub's heading id: lowercase, punctuation dropped (hyphens, underscores and spaces kept), spaces → hyphens. */
function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The ids of a markdown document's headings, outside fenced code, a repeat getting -1, -2, …. */
function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker !== undefined) {
      fence = marker;
      continue;
    }
    if (fence !== null) {
      if (
        marker !== undefined &&
        marker[0] === fence[0] &&
        marker.length >= fence.length &&
        line.trim() === marker
      )
        fence = null;
      continue;
    }
    const text = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const slug = githubSlug(text.replace(/`/g, ''));
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    ids.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return ids;
}

type SectionLink = { readonly file: string; readonly line: number; readonly target: string };

// A path ending in .md, or nothing (a markdown link within its own page), then #anchor. The path may
// not follow a letter, `:`, `/` or `.`, so a URL's tail (`https://host/x/README.md#a`) is not taken.
const LINK = /(?<![\w:/.-])((?:[\w.-]+\/)*[\w.-]+\.md)#([\w-]+)|\]\(#([\w-]+)\)/g;

/** The links to document sections in one file; `file` is relative to the repository root. */
function sectionLinks(file: string, text: string): SectionLink[] {
  const links: SectionLink[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(LINK)) {
      const [, path, anchor, ownAnchor] = match;
      const target =
        ownAnchor !== undefined ? `${file}#${ownAnchor}` : `${resolveDoc(file, path ?? '')}#${anchor}`;
      links.push({ file, line: index + 1, target });
    }
  });
  return links;
}

/** Markdown links are relative to their page, as GitHub renders them; anything else to the repository root. */
function resolveDoc(fromFile: string, path: string): string {
  const base = fromFile.endsWith('.md') ? dirname(fromFile) : '.';
  return normalize(join(base, path)).split('\\').join('/');
}

/** Each link whose document or heading does not exist, with the reason. */
function brokenLinks(
  links: readonly SectionLink[],
  readDocument: (path: string) => string | undefined,
): string[] {
  const ids = new Map<string, Set<string> | null>();
  const broken: string[] = [];
  for (const link of links) {
    const hash = link.target.lastIndexOf('#');
    const doc = link.target.slice(0, hash);
    const anchor = link.target.slice(hash + 1);
    if (!ids.has(doc)) {
      const text = readDocument(doc);
      ids.set(doc, text === undefined ? null : headingIds(text));
    }
    const docIds = ids.get(doc);
    const where = `${link.file}:${link.line} → ${link.target}`;
    if (docIds === null || docIds === undefined) broken.push(`${where}: no document ${doc}`);
    else if (!docIds.has(anchor)) broken.push(`${where}: no heading #${anchor} in ${doc}`);
  }
  return broken;
}

function scannedFiles(path: string): string[] {
  const rel = relative(ROOT, path).split('\\').join('/');
  if (SKIPPED.has(rel) || !existsSync(path)) return [];
  if (statSync(path).isDirectory())
    return readdirSync(path).flatMap((name) => scannedFiles(join(path, name)));
  return TEXT_FILE.test(rel) ? [rel] : [];
}

function readRepositoryDocument(path: string): string | undefined {
  const full = join(ROOT, path);
  return path.startsWith('..') || !existsSync(full) ? undefined : readFileSync(full, 'utf8');
}

describe('githubSlug', () => {
  it('lowercases, drops punctuation and turns spaces into hyphens as GitHub does', () => {
    expect(githubSlug("The monitor's own login")).toBe('the-monitors-own-login');
    expect(githubSlug('Server-side statement bounds')).toBe('server-side-statement-bounds');
    expect(githubSlug('Monitor controls (pt-kill style)')).toBe('monitor-controls-pt-kill-style');
    expect(githubSlug('Direct uploads to S3: POST /api/import/uploads')).toBe(
      'direct-uploads-to-s3-post-apiimportuploads',
    );
    expect(githubSlug('The one rule: one connection per invocation')).toBe(
      'the-one-rule-one-connection-per-invocation',
    );
    expect(githubSlug('max_user_connections & co')).toBe('max_user_connections--co');
    expect(githubSlug('See [the API](api.md)')).toBe('see-the-api');
  });
});

describe('headingIds', () => {
  it('numbers repeated headings and ignores # lines inside fenced code', () => {
    const markdown = [
      '# Top',
      '## Params',
      '```sh',
      '# not a heading',
      '```',
      '### Params',
      '~~~',
      '## x',
      '~~~',
    ].join('\n');
    expect([...headingIds(markdown)]).toEqual(['top', 'params', 'params-1']);
  });
});

describe('section links', () => {
  const docs: Record<string, string> = {
    'docs/design.md': '# Design\n## Time model\n',
    'README.md': '# Readme\n## Five-minute tour\n',
  };
  const read = (path: string) => docs[path];

  it('names every link whose document or heading does not exist', () => {
    const code = [
      '// see docs/design.md#time-model and docs/design.md#time-modle',
      '// also docs/nothing.md#intro, https://github.com/o/r/blob/main/docs/nothing.md#intro',
    ].join('\n');
    const markdown = '[a](design.md#time-model) [b](../README.md#five-minute-tour) [c](#design) [d](#gone)';
    const links = [...sectionLinks('lib/x.ts', code), ...sectionLinks('docs/design.md', markdown)];

    expect(brokenLinks(links, read)).toEqual([
      'lib/x.ts:1 → docs/design.md#time-modle: no heading #time-modle in docs/design.md',
      'lib/x.ts:2 → docs/nothing.md#intro: no document docs/nothing.md',
      'docs/design.md:1 → docs/design.md#gone: no heading #gone in docs/design.md',
    ]);
    expect(links).toHaveLength(7);
  });

  it('every section link in the code, scripts, config and docs exists', () => {
    const files = SCANNED.flatMap((entry) => scannedFiles(join(ROOT, entry)));
    const links = files.flatMap((file) => sectionLinks(file, readFileSync(join(ROOT, file), 'utf8')));

    // Guards against a scan that silently finds nothing (a moved root, a broken pattern).
    expect(files).toContain('docs/design.md');
    expect(links.length).toBeGreaterThan(40);
    expect(brokenLinks(links, readRepositoryDocument)).toEqual([]);
  });
});
