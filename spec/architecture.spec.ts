import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * ARCHITECTURE.md describes the tree: each part it names exists, and each part imports only
 * what the table there allows. Read from the sources (this file runs from dist-test/spec/).
 */
const ROOT = resolve(__dirname, '..', '..');

/** The parts of ARCHITECTURE.md's table, most specific first, with what each may import. */
const RULES: Array<{ part: string; mayImport: string[] }> = [
  { part: 'broker/osb', mayImport: ['broker/osb', 'shared'] },
  { part: 'broker', mayImport: ['broker', 'shared'] },
  { part: 'updater', mayImport: ['updater', 'shared'] },
  { part: 'sidecar', mayImport: ['sidecar', 'shared'] },
  { part: 'shared', mayImport: ['shared'] },
  { part: 'emulator', mayImport: ['emulator'] },
  { part: 'demo', mayImport: ['demo', 'emulator', 'shared'] },
  { part: 'doctor', mayImport: ['doctor', 'shared'] },
  { part: 'cli', mayImport: ['cli', 'broker', 'updater', 'sidecar', 'shared', 'demo', 'emulator', 'doctor'] },
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Relative imports of a source file, as paths from the repository root (no extension). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s+|import\s*\(\s*|require\(\s*)'(\.{1,2}\/[^']*)'/g)) {
    found.push(
      relative(ROOT, resolve(dirname(file), m[1]))
        .split(sep)
        .join('/'),
    );
  }
  return found;
}

const within = (path: string, part: string) => path === part || path.startsWith(`${part}/`);
const partOf = (path: string) => RULES.find((r) => within(path, r.part));

describe('ARCHITECTURE.md matches the tree', () => {
  const doc = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');

  it('names only files and folders that exist', () => {
    const named = [
      ...doc.matchAll(
        /`((?:cli|broker|updater|sidecar|shared|demo|emulator|doctor|deploy|spec|bench)\/[A-Za-z0-9/._-]*|cli\.ts|tsconfig(?:\.build)?\.json)`/g,
      ),
    ].map((m) => m[1]);
    assert.ok(named.length > 20, `ARCHITECTURE.md names the parts (${named.length} paths)`);
    const missing = [...new Set(named)].filter((p) => !existsSync(join(ROOT, p)));
    assert.deepEqual(missing, [], 'every path ARCHITECTURE.md names exists');
  });

  it('every product folder is a part of its table', () => {
    for (const rule of RULES) assert.ok(doc.includes(`\`${rule.part}/\``), `ARCHITECTURE.md describes ${rule.part}/`);
  });

  it('each part imports only what the table allows; the product never imports spec/ or bench/', () => {
    const broken: string[] = [];
    for (const rule of RULES) {
      for (const file of sources(join(ROOT, rule.part))) {
        const from = relative(ROOT, file).split(sep).join('/');
        if (partOf(from) !== rule) continue; // judged by its more specific part
        for (const target of importsOf(file)) {
          if (!rule.mayImport.some((allowed) => within(target, allowed))) broken.push(`${from} imports ${target}`);
        }
      }
    }
    for (const target of importsOf(join(ROOT, 'cli.ts'))) {
      if (within(target, 'spec') || within(target, 'bench')) broken.push(`cli.ts imports ${target}`);
    }
    assert.deepEqual(broken, []);
  });
});
