/**
 * @file `repae train --nproc N`: starts N local ranks as child processes with the torchrun
 * variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and supervises them: when a
 * rank fails, the others get a bounded grace period to fail on their own (they do, naming the
 * lost rank, after at most the collective timeout) and are then killed — never a silent hang.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Flags of the launcher (taken out of the train argv before the run config is parsed). @category optimizers */
export interface LaunchFlags {
  readonly nproc: number;
  readonly masterPort?: number;
  readonly timeoutMs?: number;
  readonly rng?: 'global' | 'per-rank';
}

/** Splits `--nproc N`, `--master-port P`, `--dist-timeout-ms T`, `--dist-rng global|per-rank` off a train argv. @category optimizers */
export function takeLaunchFlags(argv: readonly string[]): readonly [string[], LaunchFlags] {
  const rest: string[] = [];
  const f: { nproc: number; masterPort?: number; timeoutMs?: number; rng?: 'global' | 'per-rank' } = { nproc: 1 };
  const int = (flag: string, v: string | undefined, min: number): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new Error(`${flag}: expected an integer >= ${min}, got '${v ?? ''}'`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    if (name === '--nproc') f.nproc = int('--nproc', val(), 1);
    else if (name === '--master-port') f.masterPort = int('--master-port', val(), 1);
    else if (name === '--dist-timeout-ms') f.timeoutMs = int('--dist-timeout-ms', val(), 1);
    else if (name === '--dist-rng') {
      const v = val();
      if (v !== 'global' && v !== 'per-rank') throw new Error(`--dist-rng: expected global or per-rank, got '${v ?? ''}'`);
      f.rng = v;
    } else rest.push(a);
  }
  return [rest, f];
}

/** A free TCP port on 127.0.0.1 (the rendezvous port of a local job). @category optimizers */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

/** Options of {@link launchLocal}. @category optimizers */
export interface LaunchOptions {
  /** The command each rank runs (default: this CLI's `train` with the same node flags). */
  readonly command?: readonly string[];
  readonly log?: (line: string) => void;
  /** Extra grace after the collective timeout before the survivors are killed (default 15 s). */
  readonly graceMs?: number;
}

/** Starts and supervises `flags.nproc` local ranks of `repae train argv`; resolves to the exit code. @category optimizers */
export async function launchLocal(argv: readonly string[], flags: LaunchFlags, o: LaunchOptions = {}): Promise<number> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const port = flags.masterPort ?? (await freePort());
  const timeoutMs = flags.timeoutMs ?? 60_000;
  const cmd = o.command ?? [...process.execArgv, process.argv[1] ?? 'bin/repae.mjs', 'train'];
  log(`repae train --nproc ${flags.nproc}: ${flags.nproc} ranks on 127.0.0.1:${port} (gloo; collective timeout ${timeoutMs} ms)`);
  const kids: ChildProcess[] = [];
  const codes: (number | null)[] = Array.from({ length: flags.nproc }, () => null);
  let firstFailure: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const prefix = (r: number, stream: NodeJS.WritableStream) => (chunk: Buffer): void => {
    const lines = chunk.toString('utf8').split(/(?<=\n)/);
    for (const l of lines) if (l !== '') stream.write(`[rank ${r}] ${l}`);
  };
  const done = new Promise<void>((resolve) => {
    let left = flags.nproc;
    for (let r = 0; r < flags.nproc; r++) {
      const env = {
        ...process.env, RANK: String(r), WORLD_SIZE: String(flags.nproc), LOCAL_RANK: String(r), LOCAL_WORLD_SIZE: String(flags.nproc),
        MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), REPAE_DIST_TIMEOUT_MS: String(timeoutMs), ...(flags.rng === undefined ? {} : { REPAE_DIST_RNG: flags.rng }),
      };
      const k = spawn(process.execPath, [...cmd, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      k.stdout?.on('data', prefix(r, process.stdout));
      k.stderr?.on('data', prefix(r, process.stderr));
      log(`rank ${r}: pid ${k.pid ?? '?'}`);
      k.on('exit', (code, signal) => {
        codes[r] = code ?? 128;
        if (code !== 0 && firstFailure === undefined) {
          firstFailure = `rank ${r} (pid ${k.pid ?? '?'}) ${signal !== null ? `was killed by ${signal}` : `exited with code ${code}`}`;
          log(`${firstFailure}; waiting up to ${timeoutMs + (o.graceMs ?? 15_000)} ms for the other ranks to stop`);
          killTimer = setTimeout(() => {
            for (const [i, c] of kids.entries()) if (c.exitCode === null && c.signalCode === null) { log(`rank ${i} did not stop: killing it`); c.kill('SIGKILL'); }
          }, timeoutMs + (o.graceMs ?? 15_000));
        }
        if (--left === 0) resolve();
      });
      kids.push(k);
    }
  });
  const forward = (sig: NodeJS.Signals) => () => { for (const k of kids) k.kill(sig); };
  const onInt = forward('SIGINT'), onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  await done;
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  if (killTimer !== undefined) clearTimeout(killTimer);
  if (firstFailure === undefined) { log(`all ${flags.nproc} ranks finished`); return 0; }
  log(`distributed run failed: ${firstFailure}; exit codes ${codes.map((c, i) => `rank ${i}: ${c}`).join(', ')}`);
  return 1;
}
