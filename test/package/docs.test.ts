/**
 * `npm run docs` (typedoc over every published subpath, typedoc.json) must succeed with no warning:
 * typedoc.json sets `treatWarningsAsErrors` and `validation.notDocumented`, so an undocumented
 * export, a broken `{@link}` or a referenced-but-unexported type fails this test.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

it('npm run docs builds the API site without warnings (every export documented)', () => {
  const out = mkdtempSync(join(tmpdir(), 'repae-docs-'));
  try {
    const r = spawnSync('node', [join(root, 'node_modules/typedoc/bin/typedoc'), '--out', out], { cwd: root, encoding: 'utf8', timeout: 400_000 });
    const log = `${r.stdout}\n${r.stderr}`;
    expect(log).not.toMatch(/\[warning\]|\[error\]/);
    expect(r.status, log).toBe(0);
    expect(readdirSync(out)).toContain('index.html');
    expect(readdirSync(join(out, 'modules')).length).toBeGreaterThanOrEqual(14);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 420_000);
