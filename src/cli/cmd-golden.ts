/** @file `repae golden DIR`: runs every fixture and prints one PASS/FAIL line each; non-zero exit on any failure. */
import { existsSync, statSync } from 'node:fs';
import { backendNames, useBackend, type BackendName } from '../backends/index.js';
import { listFixtures, reportLine, runFixture } from '../golden/runner.js';
import { parseArgs, stringFlag, UsageError } from './args.js';

/** Implements `repae golden`. @category utility types */
export async function goldenCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log('usage: repae golden DIR [--backend cpu|wasm|webgpu|tensorflow] [--only NAME,...]\nRuns every fixture (NAME.json + NAME.safetensors) in DIR.');
    return 0;
  }
  const p = parseArgs(argv, ['backend', 'only'], [], 1);
  const dir = p.positional[0];
  if (dir === undefined) throw new UsageError('missing the fixture directory (e.g. repae golden ../shared/golden)');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`fixture directory '${dir}' does not exist (e.g. repae golden ../shared/golden)`);
  const backend = stringFlag(p, 'backend', 'cpu');
  if (!(backendNames as readonly string[]).includes(backend)) throw new UsageError(`--backend expects one of ${backendNames.join(', ')}, got '${backend}'`);
  await useBackend(backend as BackendName);
  const only = p.flags.has('only') ? stringFlag(p, 'only', '').split(',') : undefined;
  const names = listFixtures(dir).filter((n) => only === undefined || only.includes(n));
  if (names.length === 0) throw new UsageError(`no fixtures (NAME.json + NAME.safetensors) in '${dir}'`);
  let failed = 0;
  for (const n of names) {
    const r = await runFixture(dir, n);
    const line = reportLine(r);
    if (line.startsWith('FAIL')) failed++;
    console.log(line);
  }
  return failed === 0 ? 0 : 1;
}
