#!/usr/bin/env node
// Build step of `npm run build` (after tsc): bundles tfjs-core's ESM gradient registry
// (`@tensorflow/tfjs-core/dist/register_all_gradients.js`, extension-less imports that plain Node
// cannot load) into `dist/tfjs-gradients.cjs`, which `dist/src/backends/gradients.js` requires in
// Node. Running from the TypeScript sources, gradients.ts bundles the same module at first use instead.
import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
const version = require('@tensorflow/tfjs-core/package.json').version;
const out = buildSync({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'node', write: false, logLevel: 'error', legalComments: 'none' });
const file = join(root, 'dist', 'tfjs-gradients.cjs');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `// tfjs-core ${version} gradient registry, bundled by scripts/build-gradients.mjs\n${out.outputFiles[0].text}`);
console.log(`build-gradients: ${file} (tfjs-core ${version}, ${(out.outputFiles[0].text.length / 1024).toFixed(0)} KiB)`);
