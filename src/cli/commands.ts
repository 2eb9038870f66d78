/** @file Registers the sub-commands implemented outside the core CLI (train, sample, ...); each implementation loads on first use. */
import { registerCommand } from './main.js';
import './register-generate.js';

registerCommand('train', 'train REPA-E / LDM / vanilla / naive-E2E (repae train --help)', async (a) => (await import('./cmd-train.js')).trainCommand(a));
registerCommand('demo', 'the main job: train a tiny REPA-E offline on built-in data, sample, write a report (npm start)', async (a) => (await import('./cmd-demo.js')).demoCommand(a));
registerCommand('experiment', 'frozen-VAE REPA vs REPA-E vs naive E2E on CIFAR-10 + MobileNet (needs ../shared/data)', async (a) => (await import('./cmd-experiment.js')).experimentCommand(a));
