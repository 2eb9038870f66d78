/** @file Registers `repae sample`, `eval`, `encode`, `decode`, `export-vae` and `bench`; each implementation loads on first use. */
import { registerCommand } from './main.js';

function register(name: string, summary: string, load: () => Promise<(argv: readonly string[]) => Promise<number>>): void {
  registerCommand(name, summary, async (argv) => (await load())(argv));
}

register('sample', 'generate samples from a run into an ADM .npz + PNG grid (resumable)', async () => (await import('./cmd-sample.js')).sampleCommand);
register('eval', 'Fréchet distance, precision/recall, latent SV/TV, recon PSNR/SSIM, CKNNA → table + JSON', async () => (await import('./cmd-eval.js')).evalCommand);
register('encode', 'images → VAE latents (.safetensors) and the latent PCA image', async () => (await import('./cmd-encode.js')).encodeCommand);
register('decode', 'latents (.safetensors) → images (PNG grid, optional .npz)', async () => (await import('./cmd-decode.js')).decodeCommand);
register('export-vae', "a run's VAE as the official bundle + diffusers layout, latent stats from the EMA BN", async () => (await import('./cmd-export-vae.js')).exportVaeCommand);
register('bench', 'time a REPA-E step, a 1024² matmul and a SiT-S/2 block per backend → bench/results.json', async () => (await import('../bench/cmd-bench.js')).benchCommand);
