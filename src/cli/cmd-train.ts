/** @file `repae train`: REPA-E (or frozen-VAE LDM / vanilla / naive-E2E) training from flags. */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkRunConfig, configFromFlags, defaultRunConfig, fieldToFlag, type RunConfig } from '../train/config.js';
import { parseArgs, switchFlag } from './args.js';
import { OutputExistsError } from './errors.js';

const booleans = Object.entries(defaultRunConfig).filter(([, v]) => typeof v === 'boolean').map(([k]) => fieldToFlag(k).slice(2));
const valued = Object.entries(defaultRunConfig).filter(([, v]) => typeof v !== 'boolean').map(([k]) => fieldToFlag(k).slice(2));
/** Switches of `repae train` that are not part of the run config. */
const CONTROL = ['force', 'allow-config-change'] as const;

/** `--help` text: every flag with its default. */
export const trainHelp = (): string =>
  ['usage: repae train [flags]   (official train_repae.py flag names; defaults: a tiny CPU configuration)', '',
    ...Object.entries(defaultRunConfig).map(([k, v]) => `  ${fieldToFlag(k).padEnd(28)} ${JSON.stringify(v)}`),
    `  ${'--force'.padEnd(28)} with --resume=false: delete an existing run's checkpoints and metrics and start over`,
    `  ${'--allow-config-change'.padEnd(28)} resume although experiment flags differ from the run's saved config (recorded in config-history.jsonl)`,
    '', 'modes: repae-e (end to end), ldm (frozen VAE + REPA), vanilla (frozen VAE, no REPA), naive-e2e (ablation: diffusion loss into the VAE)',
    'data: builtin:shapes[:N] (generated), an image folder (one subfolder per class) or a .tar.gz of one',
    'encoders: builtin (a small CNN trained here first), mobilenet:<tfjs-model-dir>[:layer[:size]]',
    'resume: a rerun continues from the newest complete checkpoint if the flags match the saved config;',
    'Ctrl-C (SIGINT) or SIGTERM writes a checkpoint of the current step and exits (a second one exits at once).',
    'data-parallel: --nproc N (local ranks, Gloo on 127.0.0.1; --batch-size is the global batch), --master-port P, --dist-timeout-ms T (default 60000),',
    '  --dist-rng global|per-rank; several machines: set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT per process (torchrun style)'].join('\n');

/** Options of {@link runTraining} beyond the run config. @category optimizers */
export interface TrainingOptions {
  /** With `resume: false`, delete an existing run's checkpoints and metrics instead of refusing. */
  readonly force?: boolean;
  /** Resume although experiment fields differ from the saved config (recorded in the run). */
  readonly allowConfigChange?: boolean;
}

/** Files of a run that a fresh start (`--resume=false --force`) replaces. */
const RUN_FILES = ['checkpoints', 'metrics.jsonl', 'config.json', 'config-history.jsonl', 'samples'];

/** Whether a run directory already holds a run (checkpoints, metrics or a config). */
const hasRun = (runDir: string): boolean =>
  RUN_FILES.some((f) => existsSync(join(runDir, f)) && (f !== 'checkpoints' && f !== 'samples' ? true : readdirSync(join(runDir, f)).length > 0));

/**
 * Runs a training job from a config; returns the run directory. Everything is checked before any
 * work starts: the config's rules, the run directory (an existing run is resumed only when its
 * saved config matches, and is never overwritten without `force`), the dataset against the config.
 * @category optimizers
 */
export async function runTraining(cfg: RunConfig, log: (s: string) => void = console.log, stopAt?: number, opts: TrainingOptions = {}): Promise<string> {
  checkRunConfig(cfg, 'config');
  const { loopParallel, parallelFromEnv } = await import('../train/distributed.js');
  const dist = await parallelFromEnv(); // one rank of `--nproc N` / a torchrun-style launch: rendezvous first
  const leader = dist === undefined || dist.collective.rank === 0; // only rank 0 touches the run's files
  if (!leader) log = () => {};
  const runDir = join(cfg.outputDir, cfg.expName);
  if (leader && !cfg.resume && hasRun(runDir)) {
    if (opts.force !== true)
      throw new OutputExistsError(runDir, 'run directory', 'it holds a run (checkpoints/metrics); rerun without --resume=false to continue it, add --force to delete it and start over, or choose another --exp-name');
    for (const f of RUN_FILES) rmSync(join(runDir, f), { recursive: true, force: true });
    log(`--force: deleted the previous run's ${RUN_FILES.join(', ')} in ${runDir}`);
  }
  // The model code loads only now: a bad command line or config fails in well under a second.
  const [{ checkResumeConfig, trainLoop }, { buildEncoder, initRunState, openDataset, preflightRun, setupRun }, { latestCheckpoint, loadCheckpoint }, { releaseOld }] = await Promise.all([
    import('../train/loop.js'), import('../train/run.js'), import('../io/checkpoint.js'), import('../core/scope.js'),
  ]);
  if (cfg.resume && leader) checkResumeConfig(runDir, cfg, opts.allowConfigChange === true);
  const data = openDataset(cfg);
  preflightRun(cfg, data);
  const backend = await (await import('./gen-common.js')).activateBackend(cfg.backend);
  log(`repae train: mode ${cfg.mode}, backend ${backend}, run ${runDir}`);
  log(`data: ${data.name} (${data.length} images, ${data.classes.length} classes)`);
  const { latest } = latestCheckpoint(runDir);
  const restored = cfg.resume && latest !== undefined && cfg.encType === 'builtin' ? loadCheckpoint(latest, { sections: ['enc'] }).sections['enc'] : undefined;
  const encoder = await buildEncoder(cfg, data, restored, log, cfg.encoderSteps);
  log(`encoder: ${encoder.origin}; ${encoder.spec.dim}-d features`);
  const setup = setupRun(cfg, encoder.spec.dim);
  const parallel = dist === undefined ? {} : { parallel: loopParallel(dist.collective, setup, dist.rng), ...(leader ? {} : { progress: false }) };
  const final = await trainLoop({
    runDir, setup, data, encoder, log, init: () => initRunState(setup, data, encoder, log),
    ...(stopAt === undefined ? {} : { stopAt }), allowConfigChange: opts.allowConfigChange === true, ...parallel,
  }).finally(() => dist?.collective.close());
  releaseOld(final, null);
  return runDir;
}

/** Implements `repae train`. @category utility types */
export async function trainCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) { console.log(trainHelp()); return 0; }
  const { launchLocal, takeLaunchFlags } = await import('../train/launch.js');
  const [rest, launch] = takeLaunchFlags(argv);
  const p = parseArgs(rest, valued, [...booleans, ...CONTROL]);
  const flags = new Map(p.flags);
  for (const c of CONTROL) flags.delete(c);
  const cfg = checkRunConfig(configFromFlags(flags)); // a bad command line fails before any rank starts
  if (launch.nproc > 1) return launchLocal(rest, launch);
  // torchrun-style launch (the launcher sets these itself): the flags override the environment.
  if (launch.rng !== undefined) process.env['REPAE_DIST_RNG'] = launch.rng;
  if (launch.timeoutMs !== undefined) process.env['REPAE_DIST_TIMEOUT_MS'] = String(launch.timeoutMs);
  await runTraining(cfg, console.log, undefined, { force: switchFlag(p, 'force'), allowConfigChange: switchFlag(p, 'allow-config-change') });
  return 0;
}
