import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkpointsDir, CheckpointError, latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint, stepName,
  type CheckpointProgress, type CheckpointSections, requireDtypes,
} from '../../src/io/checkpoint.js';
import type { SafeWriteEntry } from '../../src/io/safetensors.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-ck-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let runs = 0;
const newRun = (): string => join(tmp, `run${runs++}`);

const sections = (v: number): CheckpointSections => ({
  sit: new Map<string, SafeWriteEntry>([['blocks.0.attn.qkv.weight', { dtype: 'F32', shape: [2, 3], data: [v, v + 1, v + 2, v + 3, v + 4, v + 5] }]]),
  ema: new Map<string, SafeWriteEntry>([['bn.running_var', { dtype: 'F32', shape: [4], data: [v, v, v, v] }], ['bn.num_batches_tracked', { dtype: 'I64', shape: [], data: [v] }]]),
  opt: new Map<string, SafeWriteEntry>([['empty', { dtype: 'F32', shape: [0, 4], data: [] }]]), // an empty blob (CRC edge case)
});
const ls = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('checkpoints', () => {
  it('saves the documented layout and loads it back', () => {
    const run = newRun();
    const events: CheckpointProgress[] = [];
    const info = saveCheckpoint(run, 4000, sections(7), { key: [12, 34], config: { lr: 1e-4, model: 'SiT-B/2' } }, { onProgress: (e) => events.push(e), metadata: { format: 'pt' } });
    expect(info).toEqual({ step: 4000, path: join(run, 'checkpoints', '0004000'), sections: ['ema', 'opt', 'sit'] });
    expect(ls(checkpointsDir(run))).toEqual(['0004000']);
    expect(ls(info.path)).toEqual(['COMPLETE', 'ema.safetensors', 'opt.safetensors', 'sit.safetensors', 'state.json']);
    expect(events.map((e) => (e.stage === 'section' ? `section:${e.section}` : e.stage))).toEqual(['section:ema', 'section:opt', 'section:sit', 'state', 'marker', 'published']);
    const state = JSON.parse(readFileSync(join(info.path, 'state.json'), 'utf8')) as Record<string, unknown>;
    expect(state).toEqual({ format: 'repae-checkpoint/1', step: 4000, sections: ['ema', 'opt', 'sit'], state: { key: [12, 34], config: { lr: 1e-4, model: 'SiT-B/2' } } });
    const ck = loadCheckpoint(info, { verify: true });
    expect(ck.step).toBe(4000);
    expect(ck.state).toEqual({ key: [12, 34], config: { lr: 1e-4, model: 'SiT-B/2' } });
    expect([...ck.sections['sit']!.entries.get('blocks.0.attn.qkv.weight')!.data]).toEqual([7, 8, 9, 10, 11, 12]);
    expect([...ck.sections['ema']!.entries.get('bn.num_batches_tracked')!.data]).toEqual([7]);
    expect(ck.sections['opt']!.entries.get('empty')!.shape).toEqual([0, 4]);
    expect(ck.sections['sit']!.metadata).toEqual({ format: 'pt' });
    expect(Object.keys(loadCheckpoint(info.path, { sections: ['ema'] }).sections)).toEqual(['ema']);
    expect(stepName(12345678)).toBe('12345678');
  });

  it('keeps the last N', () => {
    const run = newRun();
    for (const s of [100, 200, 300, 400, 500]) saveCheckpoint(run, s, sections(s), { s }, { keepLast: 2 });
    expect(ls(checkpointsDir(run))).toEqual(['0000400', '0000500']);
    expect(latestCheckpoint(run).latest?.step).toBe(500);
  });

  it('latestCheckpoint ignores incomplete checkpoints and names what it skipped', () => {
    const run = newRun();
    expect(latestCheckpoint(run)).toEqual({ latest: undefined, skipped: [] });
    for (const s of [100, 200, 300, 400, 500, 600]) saveCheckpoint(run, s, sections(s), { s });
    const root = checkpointsDir(run);
    rmSync(join(root, '0000300', 'COMPLETE'));
    rmSync(join(root, '0000400', 'ema.safetensors'));
    truncateSync(join(root, '0000500', 'sit.safetensors'), 10);
    writeFileSync(join(root, '0000600', 'COMPLETE'), '{"format": "repae-checkpoint/1", "step": "600"}');
    mkdirSync(join(root, '0000700.partial'));
    mkdirSync(join(root, '0000800'));
    writeFileSync(join(root, '0000900'), 'a file');
    writeFileSync(join(root, 'README'), 'not ours');
    const { latest, skipped } = latestCheckpoint(run);
    expect(latest?.step).toBe(200);
    expect(skipped.map((s) => [s.path.slice(root.length + 1), s.reason])).toEqual([
      ['0000300', 'no COMPLETE marker (interrupted write)'],
      ['0000400', 'ema.safetensors is missing'],
      ['0000500', expect.stringMatching(/^sit\.safetensors has 10 bytes, COMPLETE says \d+$/)],
      ['0000600', expect.stringMatching(/^unreadable COMPLETE marker: COMPLETE: Invalid value "600" supplied to .*\/step: number/)],
      ['0000700.partial', 'partial checkpoint (write in progress or interrupted)'],
      ['0000800', 'no COMPLETE marker (interrupted write)'],
      ['0000900', 'not a directory'],
    ]);
    expect(() => loadCheckpoint(join(root, '0000500'))).toThrow(CheckpointError);
    expect(() => loadCheckpoint(join(root, '0000500'))).toThrow(/0000500: incomplete checkpoint: sit\.safetensors has 10 bytes/);
    // the next save with keepLast prunes the leftovers older than it
    saveCheckpoint(run, 1000, sections(1), {}, { keepLast: 1 });
    expect(ls(root)).toEqual(['0001000', 'README']);
  });

  it('overwrites a step atomically and clears a stale partial directory of that step', () => {
    const run = newRun();
    saveCheckpoint(run, 100, sections(1), { v: 1 });
    mkdirSync(join(checkpointsDir(run), '0000100.partial'));
    writeFileSync(join(checkpointsDir(run), '0000100.partial', 'junk'), 'x');
    saveCheckpoint(run, 100, sections(2), { v: 2 });
    expect(ls(checkpointsDir(run))).toEqual(['0000100']);
    const ck = loadCheckpoint(latestCheckpoint(run).latest!, { verify: true });
    expect(ck.state).toEqual({ v: 2 });
    expect(ck.sections['ema']!.entries.get('bn.running_var')!.data[0]).toBe(2);
  });

  it('verify catches a corrupted file of the right size; errors name the path', () => {
    const run = newRun();
    const info = saveCheckpoint(run, 5, sections(3), {});
    const f = join(info.path, 'sit.safetensors');
    const bytes = readFileSync(f);
    bytes[bytes.byteLength - 1] = (bytes[bytes.byteLength - 1] ?? 0) ^ 0x40;
    writeFileSync(f, bytes);
    expect(() => loadCheckpoint(info, { verify: true })).toThrow(/0000005: sit\.safetensors fails its CRC-32 check/);
    expect(() => loadCheckpoint(info)).toThrow(/0000005: sit\.safetensors fails its CRC-32 check/); // verified by default
    expect(() => loadCheckpoint(info, { sections: ['ema'] })).not.toThrow(); // only the files read are checked
    expect(() => loadCheckpoint(info, { verify: false })).not.toThrow();
    expect(() => loadCheckpoint(info, { sections: ['disc'] })).toThrow(/0000005: no section 'disc' \(has: ema, opt, sit\)/);
    expect(() => loadCheckpoint(join(run, 'checkpoints'))).toThrow(/not a checkpoint directory name/);
  });

  it('rejects bad arguments before touching the disk', () => {
    const run = newRun();
    expect(() => saveCheckpoint(run, -1, sections(1), {})).toThrow(/step must be a non-negative integer/);
    expect(() => saveCheckpoint(run, 1, { '../x': new Map() }, {})).toThrow(/section name '\.\.\/x' is not allowed/);
    expect(() => saveCheckpoint(run, 1, { state: new Map() }, {})).toThrow(/section name 'state' is not allowed/);
    expect(() => saveCheckpoint(run, 1, { sit: new Map([['w', { dtype: 'F32', shape: [3], data: [1] }]]) }, {})).toThrow(/key 'w': 1 values for shape \[3\]/);
    expect(() => saveCheckpoint(run, 1, sections(1), {}, { keepLast: 0 })).toThrow(/keepLast must be a positive integer/);
    expect(existsSync(run)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Crash tests: a child process writing a big checkpoint is SIGKILLed mid-write.

const writer = join(import.meta.dirname, 'checkpoint-writer.ts');
const N = 2_000_000; // floats per section: 3 × 8 MB

interface ChildResult { readonly lines: string[]; readonly signal: NodeJS.Signals | null; readonly code: number | null; readonly stderr: string }

/** Runs the writer; kills it with SIGKILL when it pauses, or `delayMs` after it says `start`. */
function runWriter(run: string, step: number, kill: { readonly pauseAt: string } | { readonly delayMs: number }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', writer, run, String(step), String(N), ...('pauseAt' in kill ? [kill.pauseAt] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line === 'paused') child.kill('SIGKILL');
        if (line === 'start' && 'delayMs' in kill) setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ lines, signal, code, stderr }));
  });
}

describe('checkpoints survive SIGKILL in the middle of a write', () => {
  const previous = (run: string): void => { saveCheckpoint(run, 1000, sections(1), { which: 'previous' }); };

  it.each([
    ['section:ema', 'after the first section file'],
    ['section:sit', 'after the last section file, before state.json'],
    ['state', 'after state.json, before the COMPLETE marker'],
    ['marker', 'after the COMPLETE marker, before the rename'],
  ])('killed at %s (%s): the previous checkpoint is the latest, the partial one is named', async (pauseAt) => {
    const run = newRun();
    previous(run);
    const r = await runWriter(run, 2000, { pauseAt });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(r.lines).toContain(pauseAt);
    const { latest, skipped } = latestCheckpoint(run);
    expect(latest?.step).toBe(1000);
    expect(loadCheckpoint(latest!, { verify: true }).state).toEqual({ which: 'previous' });
    expect(skipped).toEqual([{ path: join(checkpointsDir(run), '0002000.partial'), reason: 'partial checkpoint (write in progress or interrupted)' }]);
    // a restart can write the same step again
    saveCheckpoint(run, 2000, sections(2), { which: 'retry' }, { keepLast: 1 });
    expect(ls(checkpointsDir(run))).toEqual(['0002000']);
  });

  it('killed right after publishing: the new checkpoint is complete and the latest', async () => {
    const run = newRun();
    previous(run);
    const r = await runWriter(run, 2000, { pauseAt: 'published' });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const { latest, skipped } = latestCheckpoint(run);
    expect(latest?.step).toBe(2000);
    expect(skipped).toEqual([]);
    const ck = loadCheckpoint(latest!, { verify: true });
    expect(ck.sections['vae']!.entries.get('w')!.data.length).toBe(N);
    expect(ck.state).toEqual({ key: [1, 2], config: { lr: 1e-4 } });
  });

  it.each([0, 5, 30])('killed %d ms after it starts writing: the latest is one of the two, complete and intact', async (delayMs) => {
    const run = newRun();
    previous(run);
    const r = await runWriter(run, 2000, { delayMs });
    const { latest, skipped } = latestCheckpoint(run);
    expect([1000, 2000]).toContain(latest?.step);
    const ck = loadCheckpoint(latest!, { verify: true });
    if (latest?.step === 1000) {
      expect(ck.state).toEqual({ which: 'previous' });
      expect(r.lines).not.toContain('published');
      for (const s of skipped) expect(s.path).toMatch(/0002000\.partial$/);
    } else {
      const w = ck.sections['sit']!.entries.get('w')!.data;
      expect([w[0], w[N - 1]]).toEqual([1, Math.fround(1 + (N - 1) * 1e-3)]);
    }
    console.info(`SIGKILL after ${delayMs} ms: child got to '${r.lines.at(-1)}' (signal ${r.signal}); latest = ${latest?.step}`);
  });
});

describe('requireDtypes', () => {
  it('accepts float tensors and integer BatchNorm counters; names the file, tensor and dtype otherwise', () => {
    const f = (entries: [string, 'F32' | 'I32' | 'I64' | 'F16'][]): Parameters<typeof requireDtypes>[0] => ({
      metadata: {}, entries: new Map(entries.map(([k, d]) => [k, { dtype: d, shape: [1], data: new Float32Array(1) }])),
    });
    expect(() => requireDtypes(f([['w', 'F32'], ['h', 'F16'], ['bn.num_batches_tracked', 'I64']]), 'a.safetensors')).not.toThrow();
    expect(() => requireDtypes(f([['latents', 'I32']]), 'z.safetensors')).toThrow(/^z\.safetensors: tensor 'latents' has dtype I32, expected F32 or F16 or BF16 or F64$/);
    expect(() => requireDtypes(f([['bn.num_batches_tracked', 'F32']]), 'b.safetensors')).toThrow(/'bn\.num_batches_tracked' has dtype F32, expected I64 or I32/);
  });
});
