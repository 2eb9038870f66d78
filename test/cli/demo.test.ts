/** The main job end to end at a toy size: both phases run, the judge labels the samples, and the report carries time, memory, accuracy and the grid. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runDemo } from '../../src/cli/cmd-demo.js';
import { loadDemoAssets, makeDemoAssets } from '../../src/cli/demo-assets.js';
import { useBestBackend } from '../../src/backends/index.js';
import { numTensors } from '../../src/core/scope.js';

it('runDemo from scratch: REPA-E phase, then the frozen-VAE phase, then a judged report; no tensor left behind', async () => {
  const out = mkdtempSync(join(tmpdir(), 'repae-demo-'));
  try {
    await useBestBackend(); // the demo's own choice ('auto'), made before counting tensors
    const lines: string[] = [];
    const before = numTensors();
    const path = await runDemo(out, { e2eSteps: 2, ldmSteps: 2 }, (s) => lines.push(s), { assets: null, encoderSteps: 3, judge: { steps: 3, batchSize: 8, testSize: 20 } });
    expect(numTensors()).toBe(before);
    expect(lines.some((l) => l.startsWith('phase 1: 2 REPA-E steps'))).toBe(true);
    expect(lines.some((l) => l.startsWith('phase 2: 2 SiT steps on the end-to-end-tuned VAE, frozen (ldm), batch 128'))).toBe(true);
    const run = join(out, 'demo');
    const steps = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(steps.map((r) => r['step'])).toEqual([2, 4]);
    expect(steps[0]!['vae_loss']).toBeTypeOf('number'); // phase 1 trains the VAE
    expect(steps[1]!['vae_loss']).toBeUndefined(); // phase 2 does not
    const report = readFileSync(path, 'utf8');
    expect(report).toMatch(/\*\*2 REPA-E steps\*\* of batch 8, end to end/);
    expect(report).toMatch(/\| EMA samples \(class-conditional\) \| \*\*\d+\.\d%\*\* \| 200 \|/);
    expect(report).toMatch(/\| VAE reconstructions of held-out images \| \d+\.\d% \| 64 \|/);
    expect(report).toMatch(/\| wall time \(whole job[^|]*\| \d+ s \(training \d+ s, judge \d+ s\) \|/);
    expect(report).toMatch(/\| peak memory \(resident set of the process\) \| \d+ MB \|/);
    expect(report).toMatch(/Per class, on the samples: disk \d+\.\d%, square/);
    for (const f of ['samples.png', 'reconstructions.png', 'latent-pca.png', 'plot-0.svg', 'plot-2.png']) expect(existsSync(join(run, f)), f).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 600_000);

it('demo assets: made by their command, then the demo starts from them (VAE, discriminator, encoder, judge)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'repae-demo-assets-'));
  try {
    await useBestBackend();
    const before = numTensors();
    const dir = join(out, 'assets');
    await makeDemoAssets(dir, join(out, 'work'), { vaeSteps: 2, batchSize: 4, encoderSteps: 2, judgeSteps: 2, judgeBatch: 8 }, 'repae demo-assets (test)', () => undefined);
    expect(numTensors()).toBe(before);
    const a = loadDemoAssets(dir);
    expect([a.made.vaeSteps, a.judgeRecord.trainImages, a.command]).toEqual([2, 16, 'repae demo-assets (test)']);
    expect([...a.enc.entries.keys()].length).toBeGreaterThan(0);
    const lines: string[] = [];
    const path = await runDemo(out, { e2eSteps: 1, ldmSteps: 1 }, (s) => lines.push(s), { assets: dir, judge: { testSize: 20 } });
    expect(numTensors()).toBe(before);
    expect(lines.some((l) => l.startsWith(`VAE and discriminator initialised from ${a.checkpoint}`))).toBe(true);
    expect(lines.some((l) => l.startsWith('judge: training'))).toBe(false); // restored, not trained
    expect(lines.some((l) => l.includes('encoder step'))).toBe(false);
    const report = readFileSync(path, 'utf8');
    expect(report).toMatch(/The judge is a tiny CNN classifier trained separately \(shipped in [^)]*made by `repae demo-assets \(test\)`\) for 2 steps of batch 8 on 16 freshly generated images/);
    expect(report).toMatch(/VAE pretrained for 2 steps of batch 4/);
    expect(JSON.parse(readFileSync(join(out, 'demo', 'config.json'), 'utf8')).initFrom).toBe(dir);
    await expect(runDemo(out, { e2eSteps: 1, ldmSteps: 0 }, () => undefined, { assets: join(out, 'nowhere') })).rejects.toThrow(/demo assets: no complete checkpoint in '[^']*nowhere' \(make them with `npm run demo:assets/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 600_000);
