/** The CLI progress bar: plain lines off a TTY (throttled, plus the final one), in-place redraws on a TTY, rate and ETA. */
import { describe, expect, it } from 'vitest';
import { formatDuration, progressBar } from '../../src/cli/progress.js';

const sink = (tty: boolean) => {
  const chunks: string[] = [];
  return { chunks, stream: { write: (s: string) => chunks.push(s), isTTY: tty, columns: 120 } };
};

describe('progress bar', () => {
  it('prints plain throttled lines when the stream is not a TTY, with count, rate and ETA', () => {
    let t = 0;
    const { chunks, stream } = sink(false);
    const bar = progressBar({ label: 'sample', total: 10, unit: 'img', stream, now: () => t, plainIntervalMs: 1000 });
    t = 500; bar.update(2);          // throttled: < 1 s since the first line
    t = 2000; bar.update(4, 'batch 2/5');
    bar.finish();
    expect(chunks.every((c) => c.endsWith('\n') && !c.includes('\r'))).toBe(true);
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toMatch(/^sample \[#+-+\] 4\/10 \(40%\) 2\.00 img\/s ETA 3\.0s  batch 2\/5\n$/);
    expect(chunks[2]).toMatch(/4\/10 \(40%\) 2\.00 img\/s in 2\.0s/);
  });

  it('redraws one line in place on a TTY and ends it on finish', () => {
    let t = 0;
    const { chunks, stream } = sink(true);
    const bar = progressBar({ label: 'x', total: 4, stream, now: () => t });
    for (let i = 1; i <= 4; i++) { t += 1000; bar.tick(); }
    bar.finish();
    expect(chunks.slice(0, -1).every((c) => c.startsWith('\r\x1b[2K'))).toBe(true);
    expect(chunks.at(-1)).toBe('\n');
    expect(bar.line()).toMatch(/4\/4 \(100%\) 1\.00 it\/s in 4\.0s/);
  });

  it('excludes already-done units (a resumed job) from the rate', () => {
    let t = 0;
    const { stream } = sink(false);
    const bar = progressBar({ label: 'r', total: 100, initial: 50, stream, now: () => t, plainIntervalMs: 0 });
    t = 10_000; bar.update(60);
    expect(bar.line()).toMatch(/60\/100 \(60%\) 1\.00 it\/s ETA 40s/);
  });

  it('formats durations', () => {
    expect([formatDuration(3.21), formatDuration(184), formatDuration(3725), formatDuration(NaN)]).toEqual(['3.2s', '3m04s', '1h02m', '?']);
  });
});
