/** @file A small, strict command-line flag parser: unknown flags and bad values are errors that name the flag. */

/** Parsed flags and positional arguments. @category utility types */
export interface Parsed {
  readonly flags: ReadonlyMap<string, string | true>;
  readonly positional: readonly string[];
}

/** Thrown on a bad command line; the message names the flag and what was expected. @category utility types */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses `--flag value`, `--flag=value` and boolean `--flag` (listed in `booleans`) against the
 * allowed flag names. Flag names are kebab-case, as in the official scripts.
 * @category utility types
 */
export function parseArgs(argv: readonly string[], allowed: readonly string[], booleans: readonly string[] = []): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (!allowed.includes(name) && !booleans.includes(name)) throw new UsageError(`unknown flag --${name} (allowed: ${[...allowed, ...booleans].map((f) => `--${f}`).join(' ')})`);
    if (booleans.includes(name)) { flags.set(name, eq < 0 ? true : a.slice(eq + 1)); continue; }
    const v = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (v === undefined) throw new UsageError(`flag --${name} needs a value`);
    flags.set(name, v);
  }
  return { flags, positional };
}

/** A numeric flag with a default; a non-number is a {@link UsageError} naming the flag. @category utility types */
export function numberFlag(p: Parsed, name: string, dflt: number): number {
  const v = p.flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${String(v)}'`);
  return n;
}

/** A string flag with a default. @category utility types */
export function stringFlag(p: Parsed, name: string, dflt: string): string {
  const v = p.flags.get(name);
  if (v === true) throw new UsageError(`--${name} expects a value`);
  return v ?? dflt;
}
