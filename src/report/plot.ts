/** @file Line plots for reports: an SVG with labels, and a PNG raster of the same curves (no text). */
import { encodePng } from '../io/png.js';

/** One named curve. @category io */
export interface Series {
  readonly name: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
}

/** Plot options. @category io */
export interface PlotOptions {
  readonly title: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
  /** Log-scale y axis (values ≤ 0 dropped). */
  readonly logY?: boolean;
}

/** Distinguishable colours (Tableau 10). @category io */
export const PALETTE: readonly (readonly [number, number, number])[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

interface Frame { x0: number; x1: number; y0: number; y1: number; px: (x: number) => number; py: (y: number) => number }

function frame(series: readonly Series[], o: PlotOptions, w: number, h: number, m: { l: number; r: number; t: number; b: number }): Frame {
  const tf = (y: number): number => (o.logY === true ? Math.log10(y) : y);
  const xs = series.flatMap((s) => s.x), ys = series.flatMap((s) => s.y.filter((v) => Number.isFinite(v) && (o.logY !== true || v > 0)).map(tf));
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  return { x0, x1, y0, y1, px: (x) => m.l + ((x - x0) / Math.max(1e-12, x1 - x0)) * (w - m.l - m.r), py: (y) => h - m.b - ((tf(y) - y0) / (y1 - y0)) * (h - m.t - m.b) };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const tick = (v: number): string => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString());

/** An SVG line plot with title, axis labels, ticks and a legend. @category io */
export function linePlotSvg(series: readonly Series[], o: PlotOptions): string {
  const w = o.width ?? 640, h = o.height ?? 360, m = { l: 64, r: 150, t: 32, b: 44 };
  const f = frame(series, o, w, h, m);
  const lines = series.map((s, i) => {
    const c = PALETTE[i % PALETTE.length] as readonly number[];
    const pts = s.x.map((x, j) => [x, s.y[j] as number] as const).filter(([, y]) => Number.isFinite(y) && (o.logY !== true || y > 0)).map(([x, y]) => `${f.px(x).toFixed(1)},${f.py(y).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="rgb(${c.join(',')})" stroke-width="1.6" points="${pts}"/><text x="${w - m.r + 10}" y="${m.t + 16 * i + 10}" font-size="12" fill="rgb(${c.join(',')})">${esc(s.name)}</text>`;
  });
  const yt = Array.from({ length: 5 }, (_, i) => f.y0 + ((f.y1 - f.y0) * i) / 4);
  const xt = Array.from({ length: 5 }, (_, i) => f.x0 + ((f.x1 - f.x0) * i) / 4);
  const yv = (v: number): number => (o.logY === true ? 10 ** v : v);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14">${esc(o.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${w - m.l - m.r}" height="${h - m.t - m.b}" fill="none" stroke="#888"/>`,
    ...yt.map((v) => { const y = h - m.b - ((v - f.y0) / (f.y1 - f.y0)) * (h - m.t - m.b); return `<line x1="${m.l}" x2="${w - m.r}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${m.l - 6}" y="${y + 4}" font-size="10" text-anchor="end">${tick(yv(v))}</text>`; }),
    ...xt.map((v) => `<text x="${f.px(v)}" y="${h - m.b + 14}" font-size="10" text-anchor="middle">${tick(v)}</text>`),
    `<text x="${(m.l + w - m.r) / 2}" y="${h - 8}" font-size="12" text-anchor="middle">${esc(o.xLabel ?? 'step')}</text>`,
    `<text x="14" y="${(m.t + h - m.b) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(m.t + h - m.b) / 2})">${esc(o.yLabel ?? '')}${o.logY === true ? ' (log)' : ''}</text>`,
    ...lines,
    '</svg>',
  ].join('\n');
}

/** The same plot as a PNG raster (curves, frame and grid only; the SVG carries the labels). @category io */
export function linePlotPng(series: readonly Series[], o: PlotOptions): Uint8Array {
  const w = o.width ?? 640, h = o.height ?? 360, m = { l: 64, r: 150, t: 32, b: 44 };
  const f = frame(series, o, w, h, m);
  const px = new Uint8Array(w * h * 3).fill(255);
  const set = (x: number, y: number, c: readonly number[]): void => {
    const xi = Math.round(x), yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= w || yi >= h) return;
    px.set(c as number[], (yi * w + xi) * 3);
  };
  const line = (xa: number, ya: number, xb: number, yb: number, c: readonly number[], thick = 1): void => {
    const n = Math.max(1, Math.ceil(Math.hypot(xb - xa, yb - ya)));
    for (let i = 0; i <= n; i++) {
      const x = xa + ((xb - xa) * i) / n, y = ya + ((yb - ya) * i) / n;
      for (let d = 0; d < thick; d++) { set(x, y + d, c); set(x + d, y, c); }
    }
  };
  for (let i = 0; i <= 4; i++) { const y = m.t + ((h - m.t - m.b) * i) / 4; line(m.l, y, w - m.r, y, [235, 235, 235]); }
  line(m.l, m.t, w - m.r, m.t, [136, 136, 136]); line(m.l, h - m.b, w - m.r, h - m.b, [136, 136, 136]);
  line(m.l, m.t, m.l, h - m.b, [136, 136, 136]); line(w - m.r, m.t, w - m.r, h - m.b, [136, 136, 136]);
  series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length] as readonly number[];
    const pts = s.x.map((x, j) => [x, s.y[j] as number] as const).filter(([, y]) => Number.isFinite(y) && (o.logY !== true || y > 0));
    for (let j = 1; j < pts.length; j++) line(f.px((pts[j - 1] as readonly number[])[0] as number), f.py((pts[j - 1] as readonly number[])[1] as number), f.px((pts[j] as readonly number[])[0] as number), f.py((pts[j] as readonly number[])[1] as number), c, 2);
    for (let k = 0; k < 20; k++) line(w - m.r + 10, m.t + 16 * i + 6 + (k % 2), w - m.r + 40, m.t + 16 * i + 6 + (k % 2), c); // legend swatch (same order as the SVG legend)
  });
  return encodePng({ width: w, height: h, channels: 3, data: px });
}
