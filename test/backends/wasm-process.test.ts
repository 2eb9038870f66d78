/**
 * tfjs-backend-wasm's Emscripten glue installs process-level uncaughtException/unhandledRejection
 * listeners that rethrow, so an uncaught error prints ~39 KB of minified code and exits 7. Through
 * repae's backend layer those listeners are removed (exactly those), so a consumer's own errors
 * and handlers behave normally.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeListenersAddedSince, snapshotProcessListeners } from '../../src/backends/wasm-process.js';

const root = resolve(import.meta.dirname, '..', '..');
const consumer = join(root, 'test', 'backends', 'fixtures', 'wasm-consumer.mts');

function run(mode: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, ['--import', 'tsx', consumer, mode], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    c.on('error', fail);
    c.on('close', (code) => done({ code, out, err }));
  });
}
const counts = (out: string): { before: number[]; after: number[] } => JSON.parse(out.trim().split('\n')[0] as string) as { before: number[]; after: number[] };

describe('wasm backend and process-level error handling', () => {
  it('control: plain tfjs-backend-wasm buries an uncaught error in minified code (exit 7)', async () => {
    const r = await run('raw');
    const c = counts(r.out);
    expect(c.after).toEqual([c.before[0]! + 1, c.before[1]! + 1]);
    expect(r.code).toBe(7);
    expect(r.err.length).toBeGreaterThan(10_000);
    expect(r.err).toContain('var Module');
  });

  it("through repae's backend layer the listeners are gone and the error prints normally (exit 1)", async () => {
    const r = await run('repae');
    expect(counts(r.out).after).toEqual(counts(r.out).before);
    expect(r.code).toBe(1);
    expect(r.err).toContain('Error: consumer boom');
    expect(r.err).not.toContain('var Module');
    expect(r.err.length).toBeLessThan(3000);
  });

  it("a consumer's own uncaughtException listener is kept and handles the error", async () => {
    const r = await run('own');
    const c = counts(r.out);
    expect(c.after).toEqual([c.before[0]! + 1, c.before[1]!]);
    expect(r.code).toBe(3);
    expect(r.err.trim()).toBe('consumer handler: consumer boom');
  });

  it('removeListenersAddedSince removes exactly the listeners added after the snapshot', () => {
    const mine = (): void => {};
    const theirs = (): void => {};
    process.on('unhandledRejection', mine);
    const snap = snapshotProcessListeners();
    process.on('unhandledRejection', theirs);
    process.on('uncaughtException', theirs);
    expect(removeListenersAddedSince(snap)).toBe(2);
    expect(process.listeners('unhandledRejection')).toContain(mine);
    expect(process.listeners('unhandledRejection')).not.toContain(theirs);
    expect(process.listeners('uncaughtException')).not.toContain(theirs);
    process.removeListener('unhandledRejection', mine);
  });
});
