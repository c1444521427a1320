// METRIC lines as benchmarks really print them: coloured, indented, cut for
// length, printed several times. The value read is the last line of its name
// as a terminal shows it, or none with a reason: never an earlier one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetricLine, parseMetrics } from '../scripts/lib/metrics.ts';
import { METRIC_MAX_LINE_BYTES, METRIC_MAX_LINES, METRIC_MAX_PREFIX_BYTES, readMetricLines } from '../scripts/lib/sources/metric-lines.ts';
import { engine, makeRepo } from './helpers/engine.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-ml-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The METRIC lines reading of a log holding exactly this output. */
async function read(out: string | Buffer) {
  const file = path.join(dir, 'output.log');
  fs.writeFileSync(file, out);
  const r = await readMetricLines({ cwd: dir, log: { file, start: 0, end: fs.statSync(file).size }, startedAtMs: 0 });
  if (!r.ok) throw new Error(r.reason);
  return r;
}

const SGR = fc.constantFrom('\x1b[0m', '\x1b[32m', '\x1b[1;31m', '\x1b[38;2;255;128;0m', '\x1b[K');

describe('METRIC lines with colour codes or indentation', () => {
  it('reads a coloured last line, not the plain line before it', async () => {
    for (const last of ['\x1b[32mMETRIC loss=0.5\x1b[0m', '\x1b[1mMETRIC loss=\x1b[33m0.5\x1b[0m \x1b[K', '\uFEFF\x1b[0mMETRIC loss=0.5\r']) {
      const r = await read(`METRIC loss=0.9\n${last}\n`);
      expect(r.metrics, JSON.stringify(last)).toEqual({ loss: [0.5] });
      expect(r.warnings).toEqual([]);
    }
  });

  it('refuses an indented last line with its reason: neither its value nor the earlier one is read', async () => {
    for (const last of ['  METRIC loss=0.5', '\tMETRIC loss=0.5', '\x1b[1m  METRIC loss=0.5\x1b[0m']) {
      const r = await read(`METRIC loss=0.9\nMETRIC n=3\n${last}\n`);
      expect(r.metrics, JSON.stringify(last)).toEqual({ n: [3] });
      expect(r.warnings).toEqual(['ignored METRIC line "  METRIC loss=0.5": indented (a METRIC line starts its line)']);
    }
    // A readable line after it counts again.
    expect((await read('  METRIC loss=0.9\nMETRIC loss=0.4\n')).metrics).toEqual({ loss: [0.4] });
  });

  it('property: any finite value printed with colour codes around and inside is read exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.array(SGR, { maxLength: 3 }),
        fc.array(SGR, { maxLength: 2 }),
        fc.array(SGR, { maxLength: 2 }),
        fc.constantFrom('\n', '\r\n', '\r', ''),
        async (v, before, mid, after, end) => {
          const r = await read(`METRIC v=1\nnoise\r${before.join('')}METRIC v=${mid.join('')}${String(v)}${after.join('')}${end}`);
          expect(r.metrics).toEqual({ v: [Object.is(v, -0) ? 0 : v] });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a prefix longer than METRIC_MAX_PREFIX_BYTES, or text before the word, is not a METRIC line', async () => {
    expect((await read(`${'\x1b[0m'.repeat(METRIC_MAX_PREFIX_BYTES / 4)}METRIC a=1\n`)).metrics).toEqual({ a: [1] });
    expect((await read(`${'\x1b[0m'.repeat(METRIC_MAX_PREFIX_BYTES / 4)} METRIC a=1\n`))).toEqual({ ok: true, metrics: {}, warnings: [] });
    for (const line of ['# METRIC a=1', '[32mMETRIC a=1', '{"msg":"METRIC a=1"}', 'INFO METRIC a=1', '\x1bMETRIC a=1']) {
      expect((await read(`METRIC a=2\n${line}\n`)).metrics, JSON.stringify(line)).toEqual({ a: [2] });
    }
  });
});

describe('an unreadable last line of a name leaves it without a value', () => {
  it('a last line cut for length takes the earlier value away, with the reason', async () => {
    const r = await read(`METRIC loss=0.9\nMETRIC loss=0.5${' '.repeat(METRIC_MAX_LINE_BYTES)}\nMETRIC n=3\n`);
    expect(r.metrics).toEqual({ n: [3] });
    expect(r.warnings).toEqual([`ignored METRIC line "METRIC loss=0.5...": longer than ${METRIC_MAX_LINE_BYTES} bytes`]);
    // A readable line after the long one counts again.
    expect((await read(`METRIC loss=0.9${' '.repeat(2000)}\nMETRIC loss=0.4\n`)).metrics).toEqual({ loss: [0.4] });
  });

  it('a value too small to tell from 0 is refused, not read as 0', () => {
    for (const raw of ['1e-400', '-2.5e-330', '0.0001e-400']) {
      const r = parseMetricLine(`METRIC loss=${raw}`);
      expect(r, raw).toEqual({ name: 'loss', warning: `ignored METRIC line "METRIC loss=${raw}": ${raw} is too small to tell from 0` });
    }
    for (const raw of ['0', '-0', '0.000', '0e-400', '5e-324']) expect(parseMetricLine(`METRIC x=${raw}`), raw).toHaveProperty('value');
    expect(parseMetrics(['METRIC loss=0.9', 'METRIC loss=1e-999']).metrics).toEqual({});
  });

  it('forms a benchmark prints that are never read as a number, whatever came before', async () => {
    for (const v of ['1,234', '1_000', '0x10', '12ms', '12 ms', '0.5 # warm', '0.5;', 'nan', '-inf', 'Infinity', '1e999', '１', '0.5\u0000']) {
      const r = await read(`METRIC t=7\nMETRIC t=${v}\n`);
      expect(r.metrics, v).toEqual({});
      expect(r.warnings, v).toHaveLength(1);
    }
  });
});

describe('through the engine', { timeout: 600_000 }, () => {
  /** The run-experiment answer of a baseline measured with this bench.js (src/v.txt holds 0.5). */
  const baseline = (name: string, bench: string) => {
    const repo = makeRepo({ 'bench.js': bench, 'src/v.txt': '0.5\n' });
    expect(engine('init-experiment', ['--name', name, '--metric', 'loss', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'src/**'], repo).code).toBe(0);
    return engine('run-experiment', ['--description', 'baseline', '--json'], repo).json;
  };
  const V = "const v = require('fs').readFileSync('src/v.txt', 'utf8').trim();";

  it('keeps the coloured last METRIC line (FORCE_COLOR), not the plain one before it', () => {
    const bench = [V, "console.log('METRIC loss=0.9');", "console.error('\\x1b[1mMETRIC mem=\\x1b[33m12\\x1b[0m');", "console.log('\\x1b[32mMETRIC loss=' + v + '\\x1b[0m');"].join('\n');
    expect(baseline('colour', bench)).toMatchObject({ verdict: 'keep', primary: 0.5, metrics: { mem: 12 } });
  });

  it('a last METRIC line too long to read makes the run invalid with the reason, rather than measure the earlier one', () => {
    const bench = [V, "console.log('METRIC loss=0.9');", "console.log('METRIC loss=' + v + ' '.repeat(5000) + '# padded');"].join('\n');
    const r = baseline('long', bench);
    expect(r).toMatchObject({ status: 'invalid', primary: null });
    expect(JSON.stringify(r)).toContain('longer than 1024 bytes');
  });
});

describe('many METRIC lines', () => {
  it('says when only the last METRIC_MAX_LINES were read, so a metric printed only before them is not missing without a reason', async () => {
    const r = await read(`METRIC loss=0.5\n${'METRIC step=1\n'.repeat(METRIC_MAX_LINES)}METRIC acc=0.9\n`);
    expect(r.metrics).toEqual({ step: [1], acc: [0.9] });
    expect(r.warnings).toEqual([`read the last ${METRIC_MAX_LINES} of ${METRIC_MAX_LINES + 2} METRIC lines; a metric printed only before them is not read`]);
    expect((await read('METRIC step=1\n'.repeat(METRIC_MAX_LINES))).warnings).toEqual([]);
  });
});
