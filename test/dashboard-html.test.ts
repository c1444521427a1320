// The HTML page: self-contained, escaped, capped, and really drawing a chart,
// checked by rendering it in headless Chromium and reading the screenshot's
// pixels. No Chromium is a failure, not a skip: CI installs it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyState, foldLines, termination } from '../scripts/lib/reduce.ts';
import { fmt } from '../scripts/lib/summary.ts';
import { syntheticLedger, writeSynthetic, type Synthetic } from './helpers/synthetic-ledger.ts';
import { buildModel, KEEPS_CAP, ROWS_CAP } from '../scripts/lib/dashboard/model.ts';
import { CHART_COLORS, HTML_BUCKETS, renderHtml } from '../scripts/lib/dashboard/html.ts';
import { ensureChromium, headlessArgs } from './helpers/chromium.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

function command(name: string): string[] {
  const dist = process.env.AUTOLOOP_TEST_DIST;
  if (dist && fs.existsSync(path.join(dist, `${name}.mjs`))) return [path.join(dist, `${name}.mjs`)];
  return ['--import', 'tsx', path.join(ROOT, 'scripts', `${name}.ts`)];
}

// ---- a small PNG reader: IHDR, concatenated IDAT, unfiltered scanlines ----

interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel. */
  data: Uint8Array;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function readPng(buf: Buffer): Image {
  const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!buf.subarray(0, 8).equals(SIG)) throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  let interlace = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      depth = body[8] as number;
      colorType = body[9] as number;
      interlace = body[12] as number;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) {
    throw new Error(`unsupported PNG (bit depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
  }
  const bpp = colorType === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let x = 0; x < stride; x++) {
      const v = raw[src + x] as number;
      const a = x >= bpp ? (pixels[dst + x - bpp] as number) : 0;
      const b = y > 0 ? (pixels[dst - stride + x] as number) : 0;
      const c = x >= bpp && y > 0 ? (pixels[dst - stride + x - bpp] as number) : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : NaN;
      if (Number.isNaN(pred)) throw new Error(`bad PNG filter ${filter} on row ${y}`);
      pixels[dst + x] = (v + pred) & 0xff;
    }
  }
  if (bpp === 4) return { width, height, data: pixels };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < pixels.length; i += 3, j += 4) {
    rgba[j] = pixels[i] as number;
    rgba[j + 1] = pixels[i + 1] as number;
    rgba[j + 2] = pixels[i + 2] as number;
    rgba[j + 3] = 255;
  }
  return { width, height, data: rgba };
}

function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function near(img: Image, i: number, c: [number, number, number], tol: number): boolean {
  return Math.abs((img.data[i] as number) - c[0]) <= tol && Math.abs((img.data[i + 1] as number) - c[1]) <= tol && Math.abs((img.data[i + 2] as number) - c[2]) <= tol;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Bounding box of the pixels of a colour (the chart's background marks its region). */
function boxOf(img: Image, hex: string): Box | null {
  const c = rgb(hex);
  let box: Box | null = null;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (!near(img, (y * img.width + x) * 4, c, 1)) continue;
      if (!box) box = { x0: x, y0: y, x1: x, y1: y };
      else {
        box.x0 = Math.min(box.x0, x);
        box.x1 = Math.max(box.x1, x);
        box.y0 = Math.min(box.y0, y);
        box.y1 = Math.max(box.y1, y);
      }
    }
  }
  return box;
}

function countIn(img: Image, box: Box, hex: string): number {
  const c = rgb(hex);
  let n = 0;
  for (let y = box.y0; y <= box.y1; y++) for (let x = box.x0; x <= box.x1; x++) if (near(img, (y * img.width + x) * 4, c, 6)) n++;
  return n;
}

// ---- Chromium ----

function screenshot(html: string, work: string): Image {
  const bin = ensureChromium();
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  const png = path.join(work, `shot-${path.basename(profile)}.png`);
  const r = spawnSync(
    bin,
    [
      ...headlessArgs(profile),
      `--screenshot=${png}`,
      '--window-size=1200,900',
      `file://${html}`,
    ],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (!fs.existsSync(png)) throw new Error(`chromium wrote no screenshot (exit ${r.status}): ${(r.stderr ?? '').slice(-800)}`);
  return readPng(fs.readFileSync(png));
}

// ---- fixtures ----

const HOSTILE = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)> \'quoted\'';

let work: string;
let full: { dir: string; syn: Synthetic; html: string; text: string };
let empty: { dir: string; html: string; text: string };

function renderTo(dir: string, file: string): string {
  const r = spawnSync(process.execPath, [...command('dashboard'), '--cwd', dir, '--html', file], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`dashboard --html failed (${r.status}): ${r.stderr}`);
  return fs.readFileSync(file, 'utf8');
}

// First use on a fresh machine may install chromium: give that its own long timeout.
beforeAll(() => void ensureChromium(), 1_800_000);

beforeAll(() => {
  work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-html-')));
  const fdir = path.join(work, 'full');
  const syn = syntheticLedger({ runs: 50, seed: 5, descriptions: ['try a wheel', HOSTILE, 'unroll by 4', 'bitset sieve', 'cache bound', 'start at p*p'] });
  writeSynthetic(fdir, syn);
  const fhtml = path.join(work, 'full.html');
  full = { dir: fdir, syn, html: fhtml, text: renderTo(fdir, fhtml) };
  const edir = path.join(work, 'empty');
  writeSynthetic(edir, syntheticLedger({ runs: 0 }));
  const ehtml = path.join(work, 'empty.html');
  empty = { dir: edir, html: ehtml, text: renderTo(edir, ehtml) };
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('dashboard --html', () => {
  it('is one self-contained file: no external resources, no script', () => {
    for (const t of [full.text, empty.text]) {
      expect(t).not.toMatch(/https?:\/\//i);
      expect(t).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
      // No tag loads anything (the escaped text of a description may say src=, no tag may).
      expect(t).not.toMatch(/<[a-z][^>]*\s(?:src|href|xlink:href|srcset|data)\s*=/i);
      expect(t.startsWith('<!doctype html>')).toBe(true);
    }
  });

  it('escapes descriptions written by the model', () => {
    expect(full.text).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt; &#39;quoted&#39;');
    expect(full.text).not.toContain('<script>alert');
  });

  it('draws the chart with markers per verdict, the best line and hover titles', () => {
    const s = foldLines(emptyState(), full.syn.lines, full.syn.config);
    const t = full.text;
    expect(t).toContain('<svg class="chart"');
    expect(t).toContain('class="best"');
    expect((t.match(/class="m m-keep"/g) ?? []).length).toBe(s.counts.keep);
    expect((t.match(/class="m m-/g) ?? []).length).toBe(50); // one mark per run: 50 runs fit in the columns
    const bestLine = full.syn.lines.find((l) => l.type === 'result' && l.run_id === s.best_run);
    expect(t).toContain(`<title>${s.best_run} · keep · ${fmt(bestLine?.type === 'result' ? bestLine.primary : null)} ops`);
    expect(t).toContain(`commit ${(s.best_commit ?? '').slice(0, 12)}</title>`);
    expect(t).toContain(`fill="${CHART_COLORS.keep}"`);
    expect(t).toContain(`stroke="${CHART_COLORS.best}"`);
    expect(t).toContain('<table>');
    expect((t.match(/<tr class="r-/g) ?? []).length).toBe(50);
  });

  it('caps the table at the last ROWS_CAP runs plus the newest KEEPS_CAP earlier keeps, and says so', () => {
    const syn = syntheticLedger({ runs: ROWS_CAP + 120, seed: 9 });
    const s = foldLines(emptyState(), syn.lines, syn.config);
    const now = Date.parse(s.last_ts ?? '') + 1000;
    const m = buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state: s, termination: termination(s, syn.config, now), chain: [], now, chartBuckets: HTML_BUCKETS });
    const html = renderHtml(m);
    const allKeeps = syn.lines.filter((l) => l.type === 'result' && l.verdict === 'keep' && Number(l.run_id.slice(1)) <= 120).length;
    const earlierKeeps = Math.min(KEEPS_CAP, allKeeps);
    expect(earlierKeeps).toBeGreaterThan(0);
    expect((html.match(/<tr class="r-/g) ?? []).length).toBe(ROWS_CAP + earlierKeeps);
    const newest = earlierKeeps >= KEEPS_CAP ? ' newest' : '';
    expect(html).toContain(`Listing the last ${ROWS_CAP} runs and the ${earlierKeeps}${newest} earlier keeps; ${120 - earlierKeeps} older runs are not listed`);
  });

  it('shows the chart in Chromium: kept markers and the best line in the chart, none without runs', () => {
    const shot = screenshot(full.html, work);
    const box = boxOf(shot, CHART_COLORS.background);
    expect(box, 'chart background not found in the screenshot').not.toBeNull();
    const b = box as Box;
    expect(b.x1 - b.x0).toBeGreaterThan(600);
    expect(b.y1 - b.y0).toBeGreaterThan(200);
    expect(countIn(shot, b, CHART_COLORS.keep)).toBeGreaterThan(30);
    expect(countIn(shot, b, CHART_COLORS.best)).toBeGreaterThan(300);

    const none = screenshot(empty.html, work);
    const ebox = boxOf(none, CHART_COLORS.background);
    expect(ebox, 'the empty page still has a chart area').not.toBeNull();
    expect(countIn(none, ebox as Box, CHART_COLORS.keep)).toBe(0);
    expect(countIn(none, ebox as Box, CHART_COLORS.best)).toBe(0);
  });
});
