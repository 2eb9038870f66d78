/**
 * @file A small progress bar for long CLI jobs (sampling, evaluation, benchmarks): label,
 * count/total, rate and ETA. On a TTY it redraws one line in place; otherwise (logs, CI, pipes) it
 * prints plain lines, at most one per `plainIntervalMs`, plus the final one.
 */

/** Where the bar is drawn: stderr by default. `isTTY`/`columns` decide the mode and the width. @category utility types */
export interface ProgressStream {
  readonly write: (s: string) => unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Options of {@link progressBar}. @category utility types */
export interface ProgressOptions {
  /** Shown first, e.g. `sample` or `fid features`. */
  readonly label: string;
  /** Units to reach (e.g. images); 0 is allowed (the bar is then full at once). */
  readonly total: number;
  /** Unit name for the rate (default `it`: `12.3 it/s`). */
  readonly unit?: string;
  /** Units already done before this session (a resumed job): counted in the bar, not in the rate. */
  readonly initial?: number;
  /** Output stream (default `process.stderr`). */
  readonly stream?: ProgressStream;
  /** Minimum time between two plain (non-TTY) lines, default 5000 ms; TTY redraws are limited to 10 per second. */
  readonly plainIntervalMs?: number;
  /** Clock in ms (default `performance.now`), injectable for tests. */
  readonly now?: () => number;
  /** Force the TTY or the plain mode (default: the stream's `isTTY`). */
  readonly tty?: boolean;
}

/** A live progress bar (see {@link progressBar}). @category utility types */
export interface Progress {
  /** Sets the units done (may be fractional) and an optional note (e.g. `step 12/50`). */
  readonly update: (done: number, note?: string) => void;
  /** Adds `k` units (default 1). */
  readonly tick: (k?: number, note?: string) => void;
  /** Draws the final state and ends the line; later calls do nothing. */
  readonly finish: (note?: string) => void;
  /** The current line's text (without control characters), for tests and logs. */
  readonly line: () => string;
}

/** Formats seconds as `1h02m`, `3m04s`, `42s` or `5.2s`. @category utility types */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 10) return `${s.toFixed(1)}s`;
  const r = Math.round(s);
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

const fmtRate = (r: number): string => (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r >= 0.1 ? r.toFixed(2) : r.toExponential(1));

/**
 * Starts a progress bar: `label [#####-----] 12/64 (19%) 3.1 img/s ETA 17s  note`. The rate counts
 * only units done in this session (`initial` units are excluded), from the first update on.
 *
 * @example
 * const bar = progressBar({ label: 'sample', total: 64, unit: 'img' })
 * for (...) bar.update(done, `batch ${b}/${nb}`)
 * bar.finish()
 * @category utility types
 */
export function progressBar(opts: ProgressOptions): Progress {
  const stream: ProgressStream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? stream.isTTY === true;
  const now = opts.now ?? (() => performance.now());
  const unit = opts.unit ?? 'it';
  const total = Math.max(0, opts.total);
  const initial = opts.initial ?? 0;
  const plainEvery = opts.plainIntervalMs ?? 5000;
  const t0 = now();
  let done = initial, note = '', last = -Infinity, finished = false, current = '';

  const render = (): string => {
    const frac = total === 0 ? 1 : Math.min(1, done / total);
    const elapsed = (now() - t0) / 1000;
    const rate = elapsed > 0 ? (done - initial) / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : NaN;
    const count = `${Math.floor(done)}/${total} (${Math.floor(frac * 100)}%)`;
    const timing = finished ? `${fmtRate(rate)} ${unit}/s in ${formatDuration(elapsed)}` : `${rate > 0 ? fmtRate(rate) : '?'} ${unit}/s ETA ${formatDuration(eta)}`;
    const tail = `${count} ${timing}${note === '' ? '' : `  ${note}`}`;
    const width = Math.max(10, Math.min(30, (stream.columns ?? 120) - opts.label.length - 75));
    const fill = Math.round(frac * width);
    return `${opts.label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${tail}`;
  };

  const draw = (force: boolean): void => {
    const t = now();
    if (!force && t - last < (tty ? 100 : plainEvery)) return;
    last = t;
    current = render();
    if (tty) {
      const cols = stream.columns ?? 200;
      stream.write(`\r\x1b[2K${current.length > cols - 1 ? current.slice(0, cols - 1) : current}`);
    } else stream.write(`${current}\n`);
  };

  const bar: Progress = {
    update(d, n) {
      if (finished) return;
      done = d;
      if (n !== undefined) note = n;
      draw(false);
    },
    tick(k = 1, n) {
      bar.update(done + k, n);
    },
    finish(n) {
      if (finished) return;
      if (n !== undefined) note = n;
      finished = true;
      draw(true);
      if (tty) stream.write('\n');
    },
    line: () => current || render(),
  };
  draw(true);
  return bar;
}
