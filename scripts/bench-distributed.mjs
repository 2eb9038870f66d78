#!/usr/bin/env node
// Throughput of data-parallel REPA-E training: `repae train` with 1 process, then `--nproc 2`
// (Gloo on 127.0.0.1), same global batch and config. Steps/s come from metrics.jsonl timestamps
// between step 2 and the last step (startup, encoder training and the step-1 preview excluded).
//
//   node scripts/bench-distributed.mjs [--nproc 1,2] [--steps 12] [--batch-size 16] [--backend wasm]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const nprocs = opt('--nproc', '1,2').split(',').map(Number);
const steps = Number(opt('--steps', '12'));
const bs = opt('--batch-size', '16');
const backend = opt('--backend', 'wasm');
const flags = (out) => ['--output-dir', out, '--exp-name', 'bench', '--backend', backend, '--data-dir', 'builtin:shapes:512', '--resolution', '32', '--batch-size', bs,
  '--encoder-steps', '5', '--max-train-steps', String(steps), '--checkpointing-steps', '100000', '--sampling-steps', '100000', '--log-every', '1', '--perceptual-weight', '0'];

const uptime = spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();
console.log(`machine: ${cpus().length} cores; uptime: ${uptime}`);
console.log(`config: default tiny REPA-E (32 px, SiT depth/hidden from the defaults), global batch ${bs}, backend ${backend}, ${steps} steps (steps 2..${steps} timed)`);
const rows = [];
for (const n of nprocs) {
  const out = mkdtempSync(join(tmpdir(), `repae-bench-${n}-`));
  const argv = ['bin/repae.mjs', 'train', ...(n > 1 ? ['--nproc', String(n)] : []), ...flags(out)];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) { console.error(r.stdout, r.stderr); process.exit(1); }
  const lines = readFileSync(join(out, 'bench', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const a = lines.find((l) => l.step === 2), b = lines[lines.length - 1];
  const sps = (b.step - a.step) / ((b.time - a.time) / 1000);
  rows.push({ nproc: n, stepsPerSec: sps, samplesPerSec: sps * Number(bs), wallS: (Date.now() - t0) / 1000 });
  console.log(`nproc ${n}: ${sps.toFixed(3)} steps/s = ${(sps * Number(bs)).toFixed(1)} samples/s (whole run ${((Date.now() - t0) / 1000).toFixed(0)} s; load ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
}
if (rows.length > 1) console.log(`speed-up ${rows[rows.length - 1].nproc} vs ${rows[0].nproc}: ${(rows[rows.length - 1].stepsPerSec / rows[0].stepsPerSec).toFixed(2)}x`);
