/** Runs the `repae` CLI in-process and captures what it prints (console and stderr writes, e.g. progress bars). */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Exit code, stdout (console.log) and stderr (console.error + direct stderr writes) of one CLI call. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `repae ...argv` in this process. */
export async function repae(...argv: string[]): Promise<CliRun> {
  const out: string[] = [], err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.map(String).join(' ')); });
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { err.push(a.map(String).join(' ')); });
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err.push(String(s)); return true; });
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}
