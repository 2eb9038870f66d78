/**
 * @file The CLI's error boundary: expected errors (a bad flag, file, key, shape, config, an
 * output that exists, an interrupted run) print one or two lines naming what is at fault and exit
 * non-zero; anything else is an internal error, printed with a short stack of repae's own frames
 * and where to report it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * An expected error: the user's input (flag, file, key, shape, config) is at fault. The message
 * names it; the CLI prints `repae <command>: <message>` and exits with {@link UserError.exitCode}.
 * @category utility types
 */
export class UserError extends Error {
  override readonly name: string = 'UserError';
  /** Process exit code (1 unless a subclass says otherwise). */
  readonly exitCode: number = 1;
}

/** A bad command line (unknown flag, bad value, stray argument): exit code 2. @category utility types */
export class UsageError extends UserError {
  override readonly name: string = 'UsageError';
  override readonly exitCode: number = 2;
}

/** An output file or run directory already exists and `--force` was not given. @category utility types */
export class OutputExistsError extends UserError {
  override readonly name: string = 'OutputExistsError';
  constructor(path: string, what = 'output', hint = 'pass --force to overwrite it, or choose another path') {
    super(`${what} '${path}' already exists; ${hint}`);
  }
}

/**
 * Names of error classes from the library (io, data, models, backends, training) that describe a
 * bad input and name it; they print as one line, exit code 1 (or the error's own `exitCode`). The library classes do not depend on the CLI,
 * so they are recognised by name.
 */
const INPUT_ERRORS: ReadonlySet<string> = new Set([
  'ModelLoadError', 'CheckpointError', 'DataError', 'StateDictError', 'SafetensorsError', 'GenerateError', 'ConfigError', 'NpzError',
  'ImageError', 'MetricInputError', 'BackendUnavailableError', 'MobilenetLoadError', 'LayersModelError', 'TokenMismatchError', 'NonFiniteLossError',
  'ConfigMismatchError', 'TrainingInterruptedError',
]);

/** What Node's file-system error codes mean, for one-line messages. */
const FS_CODES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted', EISDIR: 'is a directory',
  ENOTDIR: 'not a directory', EEXIST: 'already exists', ENOSPC: 'no space left on the device', EROFS: 'read-only file system', EMFILE: 'too many open files',
  ENOTEMPTY: 'directory not empty',
};

/** Where internal errors are reported. @category utility types */
export const REPORT_HINT = 'this is a bug in repae: please report it with the command line and this message (see README.md, "Commands")';

/** The frames of a stack that are repae's own (no node_modules, no node: internals), at most `max`. @category utility types */
export function ownFrames(stack: string | undefined, max = 8): string[] {
  if (stack === undefined) return [];
  return stack
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !l.includes('node_modules') && !l.includes('node:internal') && !/\(node:/.test(l) && !l.includes('<anonymous>'))
    .slice(0, max)
    .map((l) => `    ${l.trim()}`);
}

/** A message cut to its first `lines` lines (an error message must not bury the fault). */
const firstLines = (s: string, lines: number): string => {
  const all = s.split('\n');
  return all.length <= lines ? s : `${all.slice(0, lines).join('\n')}\n  … (${all.length - lines} more line(s))`;
};

/** The exit code and the text to print for an error caught at the CLI boundary. @category utility types */
export interface ErrorReport {
  readonly code: number;
  readonly text: string;
  readonly internal: boolean;
}

/**
 * Classifies an error thrown by a command: expected errors (a {@link UserError}, a library input
 * error, a file-system error with a path) become `repae <cmd>: <message>` (first lines only);
 * anything else becomes an internal-error report with repae's own stack frames and
 * {@link REPORT_HINT}.
 * @category utility types
 */
export function describeError(cmd: string, e: unknown): ErrorReport {
  const prefix = `repae ${cmd}: `;
  if (e instanceof UserError) return { code: e.exitCode, text: prefix + firstLines(e.message, 6), internal: false };
  if (e instanceof Error && INPUT_ERRORS.has(e.name)) {
    const code = (e as Error & { exitCode?: unknown }).exitCode;
    return { code: typeof code === 'number' && Number.isInteger(code) && code > 0 ? code : 1, text: prefix + firstLines(e.message, 6), internal: false };
  }
  const fsErr = e as Partial<NodeJS.ErrnoException> | null;
  if (e instanceof Error && typeof fsErr?.code === 'string' && fsErr.code in FS_CODES && typeof fsErr.path === 'string')
    return { code: 1, text: `${prefix}${fsErr.path}: ${FS_CODES[fsErr.code]}${fsErr.syscall === undefined ? '' : ` (${fsErr.syscall})`}`, internal: false };
  const head = e instanceof Error ? `${e.name}: ${firstLines(e.message, 4)}` : `non-error value thrown: ${firstLines(String(e), 4)}`;
  const frames = e instanceof Error ? ownFrames(e.stack) : [];
  return { code: 70, text: [`${prefix}internal error: ${head}`, ...frames, REPORT_HINT].join('\n'), internal: true };
}

/**
 * Refuses to write `path` when it exists and `force` is not set ({@link OutputExistsError}), and
 * always when it is one of the command's inputs (`inputs`: flag name → path), even with `force`.
 * @category utility types
 */
export function checkOutput(path: string, force: boolean, flag: string, inputs: Readonly<Record<string, string | undefined>> = {}): void {
  for (const [f, input] of Object.entries(inputs))
    if (input !== undefined && input !== '' && resolve(input) === resolve(path)) throw new UsageError(`--${flag} '${path}' is the same file as --${f}: an output must not replace an input`);
  if (existsSync(path) && !force) throw new OutputExistsError(path, `--${flag}`);
}
