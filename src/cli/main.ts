/** @file The `repae` command line: dispatches sub-commands. */
import { describeError } from './errors.js';

/** A sub-command: one-line summary, usage text, and its implementation (returns an exit code). */
interface Command {
  readonly summary: string;
  readonly run: (argv: readonly string[]) => Promise<number>;
}

/** Every sub-command, in one table; each implementation module loads on first use. */
const commands: Readonly<Record<string, Command>> = {
  train: { summary: 'train REPA-E / LDM / vanilla / naive-E2E (repae train --help)', run: async (a) => (await import('./cmd-train.js')).trainCommand(a) },
  demo: { summary: 'the main job: train a tiny REPA-E offline on built-in data, sample, write a report (npm start)', run: async (a) => (await import('./cmd-demo.js')).demoCommand(a) },
  'demo-assets': { summary: "make what npm start starts from: the demo's pretrained VAE, encoder and judge (npm run demo:assets)", run: async (a) => (await import('./demo-assets.js')).demoAssetsCommand(a) },
  experiment: { summary: 'frozen-VAE REPA vs REPA-E vs naive E2E on CIFAR-10 + MobileNet (needs ../shared/data)', run: async (a) => (await import('./cmd-experiment.js')).experimentCommand(a) },
  sample: { summary: 'generate samples from a run into an ADM .npz + PNG grid (resumable)', run: async (a) => (await import('./cmd-sample.js')).sampleCommand(a) },
  eval: { summary: 'Fréchet distance, precision/recall, latent SV/TV, recon PSNR/SSIM, CKNNA → table + JSON', run: async (a) => (await import('./cmd-eval.js')).evalCommand(a) },
  encode: { summary: 'images → VAE latents (.safetensors) and the latent PCA image', run: async (a) => (await import('./cmd-encode.js')).encodeCommand(a) },
  decode: { summary: 'latents (.safetensors) → images (PNG grid, optional .npz)', run: async (a) => (await import('./cmd-decode.js')).decodeCommand(a) },
  'export-vae': { summary: "a run's VAE as the official bundle + diffusers layout, latent stats from the EMA BN", run: async (a) => (await import('./cmd-export-vae.js')).exportVaeCommand(a) },
  bench: { summary: 'time a REPA-E step, a 1024² matmul and a SiT-S/2 block per backend → bench/results.json', run: async (a) => (await import('./cmd-bench.js')).benchCommand(a) },
  backends: { summary: 'list the tfjs backends and whether each can run here', run: async (a) => (await import('./cmd-backends.js')).backendsCommand(a) },
  golden: { summary: 'check golden fixtures: repae golden DIR [--backend cpu|wasm|torch|torch:cuda|webgpu|tensorflow]', run: async (a) => (await import('./cmd-golden.js')).goldenCommand(a) },
};

function help(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return ['usage: repae <command> [flags]   (repae <command> --help for its flags)', '', ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`)].join('\n');
}

/** Runs the command line and returns the exit code. @category utility types */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(help());
    return cmd === undefined ? 2 : 0;
  }
  const c = commands[cmd];
  if (c === undefined) {
    console.error(`repae: unknown command '${cmd}' (commands: ${Object.keys(commands).join(', ')}; see repae --help)`);
    return 2;
  }
  return runGuarded(cmd, async () => c.run((await import('./threads-flag.js')).takeThreadsFlag(rest)));
}

/**
 * The error boundary of every command: runs `body` and turns any error into a short message on
 * stderr and an exit code (see {@link describeError}); never rethrows.
 * @category utility types
 */
export async function runGuarded(cmd: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    const r = describeError(cmd, e);
    console.error(r.text);
    return r.code;
  }
}
