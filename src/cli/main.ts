/** @file The `repae` command line: dispatches sub-commands. */
import { describeError } from './errors.js';

/** A sub-command: one-line summary, usage text, and its implementation (returns an exit code). */
interface Command {
  readonly summary: string;
  readonly run: (argv: readonly string[]) => Promise<number>;
}

const commands: Record<string, Command> = {
  backends: { summary: 'list the tfjs backends and whether each can run here', run: async (a) => (await import('./cmd-backends.js')).backendsCommand(a) },
  golden: { summary: 'check golden fixtures: repae golden DIR [--backend cpu|wasm|torch|torch:cuda|webgpu|tensorflow]', run: async (a) => (await import('./cmd-golden.js')).goldenCommand(a) },
};

/** Registers a sub-command (used by the modules that implement training, sampling, ...). @category utility types */
export function registerCommand(name: string, summary: string, run: (argv: readonly string[]) => Promise<number>): void {
  commands[name] = { summary, run };
}

function help(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return ['usage: repae <command> [flags]   (repae <command> --help for its flags)', '', ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`)].join('\n');
}

/** Runs the command line and returns the exit code. @category utility types */
export async function main(argv: readonly string[]): Promise<number> {
  await import('./commands.js');
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(help());
    return cmd === undefined ? 2 : 0;
  }
  const c = commands[cmd];
  if (c === undefined) {
    console.error(`repae: unknown command '${cmd}' (commands: ${Object.keys(commands).join(', ')}; see repae --help)`);
    return 2;
  }
  return runGuarded(cmd, async () => c.run((await import('./threads-flag.js')).takeThreadsFlag(rest)));
}

/**
 * The error boundary of every command: runs `body` and turns any error into a short message on
 * stderr and an exit code (see {@link describeError}); never rethrows.
 * @category utility types
 */
export async function runGuarded(cmd: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    const r = describeError(cmd, e);
    console.error(r.text);
    return r.code;
  }
}
