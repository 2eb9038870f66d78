/** @file `repae train`: REPA-E (or frozen-VAE LDM / vanilla / naive-E2E) training from flags. */
import { join } from 'node:path';
import { useBackend, useBestBackend, type BackendName } from '../backends/index.js';
import { latestCheckpoint, loadCheckpoint } from '../io/checkpoint.js';
import { buildEncoder, initRunState, openDataset, setupRun } from '../repae/run.js';
import { configFromFlags, defaultRunConfig, fieldToFlag, type RunConfig } from '../train/config.js';
import { trainLoop } from '../train/loop.js';
import { registerCommand } from './main.js';
import { parseArgs } from './args.js';
import { releaseOld } from '../core/scope.js';
import { loopParallel, parallelFromEnv } from '../train/distributed.js';
import { launchLocal, takeLaunchFlags } from '../train/launch.js';

const booleans = Object.entries(defaultRunConfig).filter(([, v]) => typeof v === 'boolean').map(([k]) => fieldToFlag(k).slice(2));
const valued = Object.entries(defaultRunConfig).filter(([, v]) => typeof v !== 'boolean').map(([k]) => fieldToFlag(k).slice(2));

/** `--help` text: every flag with its default. */
export const trainHelp = (): string =>
  ['usage: repae train [flags]   (official train_repae.py flag names; defaults: a tiny CPU configuration)', '',
    ...Object.entries(defaultRunConfig).map(([k, v]) => `  ${fieldToFlag(k).padEnd(28)} ${JSON.stringify(v)}`),
    '', 'modes: repae-e (end to end), ldm (frozen VAE + REPA), vanilla (frozen VAE, no REPA), naive-e2e (ablation: diffusion loss into the VAE)',
    'data: builtin:shapes[:N] (generated), an image folder (one subfolder per class) or a .tar.gz of one',
    'encoders: builtin (a small CNN trained here first), mobilenet:<tfjs-model-dir>[:layer[:size]]',
    'data-parallel: --nproc N (local ranks, Gloo on 127.0.0.1; --batch-size is the global batch), --master-port P, --dist-timeout-ms T (default 60000),',
    '  --dist-rng global|per-rank; several machines: set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT per process (torchrun style)'].join('\n');

/** Chooses the backend of a run (`auto`: the fastest available one). @category backends */
export async function chooseBackend(cfg: RunConfig): Promise<string> {
  if (cfg.backend === 'auto') return useBestBackend();
  await useBackend(cfg.backend as BackendName);
  return cfg.backend;
}

/** Runs a training job from a config; returns the run directory. @category optimizers */
export async function runTraining(cfg: RunConfig, log: (s: string) => void = console.log, stopAt?: number): Promise<string> {
  const dist = await parallelFromEnv(); // one rank of `--nproc N` / a torchrun-style launch: rendezvous first
  if (dist !== undefined && dist.collective.rank > 0) log = () => {};
  const backend = await chooseBackend(cfg);
  const runDir = join(cfg.outputDir, cfg.expName);
  log(`repae train: mode ${cfg.mode}, backend ${backend}, run ${runDir}`);
  const data = openDataset(cfg);
  log(`data: ${data.name} (${data.length} images, ${data.classes.length} classes)`);
  const { latest } = latestCheckpoint(runDir);
  const restored = cfg.resume && latest !== undefined && cfg.encType === 'builtin' ? loadCheckpoint(latest, { sections: ['enc'] }).sections['enc'] : undefined;
  const encoder = await buildEncoder(cfg, data, restored, log, cfg.encoderSteps);
  log(`encoder: ${encoder.origin}; ${encoder.spec.dim}-d features`);
  const setup = setupRun(cfg, encoder.spec.dim);
  const parallel = dist === undefined ? {} : { parallel: loopParallel(dist.collective, setup, dist.rng), ...(dist.collective.rank > 0 ? { progress: false } : {}) };
  const final = await trainLoop({ runDir, setup, data, encoder, log, init: () => initRunState(setup, data, encoder, log), ...(stopAt === undefined ? {} : { stopAt }), ...parallel })
    .finally(() => dist?.collective.close());
  releaseOld(final, null);
  return runDir;
}

registerCommand('train', 'train REPA-E / LDM / vanilla / naive-E2E (repae train --help)', async (argv) => {
  if (argv.includes('--help')) { console.log(trainHelp()); return 0; }
  const [rest, launch] = takeLaunchFlags(argv);
  if (launch.nproc > 1) return launchLocal(rest, launch);
  // torchrun-style launch (the launcher sets these itself): the flags override the environment.
  if (launch.rng !== undefined) process.env['REPAE_DIST_RNG'] = launch.rng;
  if (launch.timeoutMs !== undefined) process.env['REPAE_DIST_TIMEOUT_MS'] = String(launch.timeoutMs);
  const p = parseArgs(rest, valued, booleans);
  await runTraining(configFromFlags(p.flags));
  return 0;
});
