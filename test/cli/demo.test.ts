/** The main job end to end at a toy size: both phases run, the judge labels the samples, and the report carries time, memory, accuracy and the grid. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runDemo } from '../../src/cli/cmd-demo.js';
import { useBestBackend } from '../../src/backends/index.js';
import { numTensors } from '../../src/core/scope.js';

it('runDemo: REPA-E phase, then the frozen-VAE phase, then a judged report; no tensor left behind', async () => {
  const out = mkdtempSync(join(tmpdir(), 'repae-demo-'));
  try {
    await useBestBackend(); // the demo's own choice ('auto'), made before counting tensors
    const lines: string[] = [];
    const before = numTensors();
    const path = await runDemo(out, { e2eSteps: 2, ldmSteps: 2 }, (s) => lines.push(s), { encoderSteps: 3, judge: { steps: 3, batchSize: 8, testSize: 20 } });
    expect(numTensors()).toBe(before);
    expect(lines.some((l) => l.startsWith('phase 1: 2 REPA-E steps'))).toBe(true);
    expect(lines.some((l) => l.startsWith('phase 2: 2 SiT steps on the end-to-end-tuned VAE, frozen (ldm), batch 64'))).toBe(true);
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
