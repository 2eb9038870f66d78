/** @file The configuration of `npm start` (`repae demo`): its phases, model sizes and learning rates. */
import { decodeRunConfig, type RunConfig } from '../train/config.js';

/** The demo's phases: `e2eSteps` REPA-E steps (VAE, SiT and discriminator together), then `ldmSteps` SiT steps on the tuned, frozen VAE. @category utility types */
export interface DemoPhases {
  readonly e2eSteps: number;
  readonly ldmSteps: number;
}

/** The default phases of `npm start` (see {@link demoConfig}). @category utility types */
export const DEMO_PHASES: DemoPhases = { e2eSteps: 100, ldmSteps: 1000 };

/** Batch size of the second phase (the SiT alone is cheap: a larger batch per step). */
export const LDM_BATCH = 128;

/**
 * The demo's configuration of one phase: a tiny REPA-E on 2 CPU cores. Phase `e2e` is REPA-E
 * proper (`repae-e`: all five objectives of the routing table); phase `ldm` continues the same
 * SiT on the end-to-end-tuned VAE, frozen (`ldm`: the paper's use of the E2E-VAE with
 * `train_ldm_only`), with a larger batch because its step does not run the VAE. `initFrom`: the
 * checkpoint directory the VAE and discriminator start from (the shipped demo assets), or `''`.
 * @category utility types
 */
export const demoConfig = (outputDir: string, phases: DemoPhases, phase: 'e2e' | 'ldm' = 'e2e', initFrom = ''): RunConfig => {
  const total = phases.e2eSteps + (phase === 'ldm' ? phases.ldmSteps : 0);
  return decodeRunConfig({
    outputDir, expName: 'demo', dataDir: 'builtin:shapes:4000', resolution: 32, batchSize: phase === 'ldm' ? LDM_BATCH : 8,
    mode: phase === 'ldm' ? 'ldm' : 'repae-e',
    sitDepth: 4, sitHidden: 64, sitHeads: 4, encoderDepth: 2, projectorDim: 128, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4,
    discNdf: 8, discLayers: 2, perceptualWeight: 0, encoderSteps: 300,
    // a short run: the EMA averages over ~100 steps (0.995 lagged the raw weights at this length), and the
    // SiT phase draws its noise levels lognormally (the official trainer's `weighting` option), which
    // learnt faster than uniform here (on torch at SiT width 128: 69 → 72 % judged samples at 800 steps)
    emaDecay: 0.99, weighting: phase === 'ldm' ? 'lognormal' : 'uniform',
    // a pretrained VAE (the shipped assets) is tuned at the paper's VAE lr 1e-4, a random one (--from-scratch) at 1e-3;
    // the SiT starts from scratch: 5e-4, then 2e-3 with the larger batch
    learningRate: phase === 'ldm' ? 2e-3 : 5e-4, vaeLearningRate: initFrom === '' ? 1e-3 : 1e-4, discLearningRate: 1e-4,
    maxTrainSteps: total, checkpointingSteps: Math.max(50, Math.floor(total / 4)), samplingSteps: Math.max(50, Math.floor(total / 4)), logEvery: 10, resume: false, initFrom,
  });
};

