/** `npm run golden -- DIR`: one line per fixture, non-zero exit on failure, other fixtures of the same kinds accepted. */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { goldenDir, haveGolden } from '../helpers/golden.js';

const root = resolve(import.meta.dirname, '..', '..');
const golden = (args: string[]) => spawnSync(process.execPath, ['bin/repae.mjs', 'golden', ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });

it.skipIf(!haveGolden)('prints PASS per fixture and exits 0 on the shared fixtures (sit_p2, samplers)', () => {
  const r = golden([goldenDir, '--backend', 'wasm', '--only', 'sit_p2,samplers']);
  const lines = r.stdout.trim().split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
  expect(lines.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['PASS samplers', 'PASS sit_p2']);
  expect(r.status).toBe(0);
});

it.skipIf(!haveGolden)('a corrupted reference makes it print FAIL with the tensor and exit non-zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'golden-'));
  copyFileSync(join(goldenDir, 'sit_p2.json'), join(dir, 'sit_p2.json'));
  const st = readSafetensors(new Uint8Array(readFileSync(join(goldenDir, 'sit_p2.safetensors'))));
  const entries = new Map([...st.entries].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: k === 'out.train.model_output' ? Array.from(e.data, (v) => v * 1.01) : e.data }]));
  writeFileSync(join(dir, 'sit_p2.safetensors'), writeSafetensors(entries));
  const r = golden([dir, '--backend', 'wasm']);
  expect(r.stdout).toMatch(/^FAIL sit_p2 out\.train\.model_output /m);
  expect(r.status).toBe(1);
});

it('a missing directory is a clear error', () => {
  const r = golden(['/nonexistent/golden']);
  expect(r.status).not.toBe(0);
  expect(r.stderr + r.stdout).toMatch(/\/nonexistent\/golden/);
});
