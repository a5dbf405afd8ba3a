import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);
const TEST = new URL('test/', ROOT).href;

/** The modules a folder's TypeScript files import (static and dynamic), each as `file → resolved URL`. */
function importsOf(dir: string): string[] {
  return readdirSync(new URL(dir, ROOT))
    .filter((name) => /\.(ts|mjs)$/.test(name))
    .flatMap((name) => {
      const file = new URL(`${dir}${name}`, ROOT);
      const specifiers = [...readFileSync(file, 'utf8').matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
      return specifiers.filter((s) => s.startsWith('.')).map((s) => `${dir}${name} → ${new URL(s, file).href}`);
    });
}

describe('the tree', () => {
  it('bench/ and harness/ import nothing from test/ (what both need is in harness/)', () => {
    const imports = [...importsOf('bench/'), ...importsOf('harness/')];
    expect(imports.some((i) => i.includes('/harness/'))).toBe(true);
    expect(imports.filter((i) => i.split(' → ')[1]!.startsWith(TEST))).toEqual([]);
  });
});
