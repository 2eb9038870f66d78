import { expect } from 'vitest';
import { registerGradients } from '../src/backends/index.js';
import { toBeAllclose } from './helpers/allclose.js';

process.env['XDG_RUNTIME_DIR'] ??= '/tmp';
await registerGradients();
expect.extend({ toBeAllclose });
