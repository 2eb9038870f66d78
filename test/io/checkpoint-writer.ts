/**
 * Child process for the crash tests in checkpoint.test.ts: writes one big checkpoint and reports
 * each stage on stdout. Usage: node --import tsx checkpoint-writer.ts <runDir> <step> <floatsPerSection> [pauseAt]
 * With `pauseAt` (a stage like `section:sit`, `state`, `marker`, `published`), it blocks right
 * after that stage until it is killed, so the parent can SIGKILL it at an exact point.
 */
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import type { SafeWriteEntry } from '../../src/io/safetensors.js';

const [runDir, stepArg, nArg, pauseAt] = process.argv.slice(2);
if (runDir === undefined || stepArg === undefined || nArg === undefined) throw new Error('usage: checkpoint-writer.ts <runDir> <step> <n> [pauseAt]');
const step = Number(stepArg), n = Number(nArg);
const section = (seed: number): Map<string, SafeWriteEntry> => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = seed + i * 1e-3;
  return new Map([['w', { dtype: 'F32', shape: [n], data: a }], ['step', { dtype: 'I64', shape: [], data: [step] }]]);
};
const sections = { sit: section(1), ema: section(2), vae: section(3) };
const say = (s: string): void => { process.stdout.write(`${s}\n`); };
say('start');
saveCheckpoint(runDir, step, sections, { key: [1, 2], config: { lr: 1e-4 } }, {
  keepLast: 2,
  onProgress: (e) => {
    const tag = e.stage === 'section' ? `section:${e.section}` : e.stage;
    say(tag);
    if (tag === pauseAt) {
      say('paused');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // block until SIGKILL
    }
  },
});
say('done');
