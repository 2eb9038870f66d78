#!/usr/bin/env node
// repae command-line entry. Two ways to run, chosen here:
//  - from the TypeScript sources through tsx, in a development checkout (tsconfig.json next to
//    package.json — it is not in the published package — and tsx installed): `npm start`, the tests
//    and the CLI then always run the code as it is, with no build step and no stale dist/;
//  - from the compiled dist/ otherwise (an installed package; `npm run build` in a checkout).
// REPAE_FROM=dist or REPAE_FROM=src forces one of them.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = new URL('../dist/src/cli/main.js', import.meta.url);
const from = process.env.REPAE_FROM;

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined;
  }
}

let main;
const register = from === 'dist' || (from !== 'src' && !existsSync(`${root}tsconfig.json`)) ? undefined : await tsxRegister();
if (register !== undefined) {
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else if (existsSync(dist)) {
  ({ main } = await import(dist.href));
} else {
  console.error(`repae: ${fileURLToPath(dist)} is missing: run \`npm run build\` (or install tsx to run from the sources)`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
