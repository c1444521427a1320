// The regex and json metric sources on output and files written by real
// processes (node and python), read through the MetricSource contract.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RegexSourceSpec, regexSource, scanLines } from '../scripts/lib/sources/regex.ts';
import { JsonSourceSpec, jsonSource } from '../scripts/lib/sources/json.ts';
import { getJsonPath, parseJsonPath } from '../scripts/lib/sources/json-path.ts';
import type { SampleOutput, SourceReading } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';

afterAll(cleanupTmp);

/** Run a node program with its output appended to `log`; the sample's byte range, as a runner records it. */
function sampleOf(cwd: string, log: string, program: string): SampleOutput {
  const startedAtMs = Date.now();
  const start = fs.existsSync(log) ? fs.statSync(log).size : 0;
  const fd = fs.openSync(log, 'a');
  const r = spawnSync(process.execPath, ['-e', program], { cwd, stdio: ['ignore', fd, fd], timeout: 60_000 });
  fs.closeSync(fd);
  if (r.status !== 0) throw new Error(`program failed: ${r.status}`);
  return { cwd, log: { file: log, start, end: fs.statSync(log).size }, startedAtMs };
}

function ok(r: SourceReading): Record<string, number[]> {
  if (!r.ok) throw new Error(`expected a reading, got: ${r.reason}`);
  return r.metrics;
}

const TRAIN = `
for (let e = 1; e <= 4; e++) console.log('epoch ' + e + ' train_loss: ' + (2 / e).toFixed(3) + ' val_loss: ' + [1.5, 0.9, 1.1, 1.0][e - 1]);
console.log('done');
`;

describe('regex source', () => {
  const spec = (extra: object) => RegexSourceSpec.parse({ kind: 'regex', metric: 'val_loss', pattern: 'val_loss: ([0-9.eE+-]+)', ...extra });

  it('reads the last, first, min, max or all matches of a real program', async () => {
    const dir = tmpDir();
    const s = sampleOf(dir, path.join(dir, 'run.log'), TRAIN);
    expect(ok(await regexSource(spec({})).read(s))).toEqual({ val_loss: [1.0] });
    expect(ok(await regexSource(spec({ pick: 'first' })).read(s)).val_loss).toEqual([1.5]);
    expect(ok(await regexSource(spec({ pick: 'min' })).read(s)).val_loss).toEqual([0.9]);
    expect(ok(await regexSource(spec({ pick: 'max' })).read(s)).val_loss).toEqual([1.5]);
    expect(ok(await regexSource(spec({ pick: 'all' })).read(s)).val_loss).toEqual([1.5, 0.9, 1.1, 1.0]);
  });

  it('reads only its own byte range of a log that holds several samples', async () => {
    const dir = tmpDir();
    const log = path.join(dir, 'run.log');
    const first = sampleOf(dir, log, "console.log('val_loss: 7')");
    const second = sampleOf(dir, log, "console.log('val_loss: 3'); console.log('val_loss: 4')");
    sampleOf(dir, log, "console.log('val_loss: 99')"); // written after: outside the range
    expect(ok(await regexSource(spec({ pick: 'all' })).read(first)).val_loss).toEqual([7]);
    expect(ok(await regexSource(spec({ pick: 'all' })).read(second)).val_loss).toEqual([3, 4]);
  });

  it('says which regex matched nothing', async () => {
    const dir = tmpDir();
    const s = sampleOf(dir, path.join(dir, 'run.log'), "console.log('loss went down')");
    const r = await regexSource(spec({})).read(s);
    expect(r).toEqual({ ok: false, reason: 'regex /val_loss: ([0-9.eE+-]+)/ matched nothing in the output' });
  });

  it('warns about NaN and inf and keeps the finite values; only non-finite is a failure', async () => {
    const dir = tmpDir();
    const s = sampleOf(dir, path.join(dir, 'run.log'), "console.log('val_loss: 2.5\\nval_loss: nan\\nval_loss: inf')");
    const wide = RegexSourceSpec.parse({ kind: 'regex', metric: 'val_loss', pattern: 'val_loss: (\\S+)', pick: 'all' });
    const r = await regexSource(wide).read(s);
    expect(ok(r).val_loss).toEqual([2.5]);
    expect(r.ok && r.warnings.join(' ')).toMatch(/ignored 2 non-finite value/);
    const bad = sampleOf(dir, path.join(dir, 'bad.log'), "console.log('val_loss: NaN')");
    const r2 = await regexSource(wide).read(bad);
    expect(r2.ok).toBe(false);
    expect(!r2.ok && r2.reason).toMatch(/^regex \/val_loss: \(\\S\+\)\/ matched only non-finite values/);
  });

  it('pick last: a last match that is NaN reads nothing (a training that diverged), a NaN before the last is dropped', async () => {
    const dir = tmpDir();
    const last = RegexSourceSpec.parse({ kind: 'regex', metric: 'val_loss', pattern: 'val_loss: (\\S+)' });
    const diverged = await regexSource(last).read(sampleOf(dir, path.join(dir, 'a.log'), "console.log('val_loss: 0.9\\nval_loss: 0.8\\nval_loss: nan')"));
    expect(diverged).toEqual({ ok: false, reason: 'regex /val_loss: (\\S+)/: the last match is not finite (earlier matches are not the result)' });
    const recovered = await regexSource(last).read(sampleOf(dir, path.join(dir, 'b.log'), "console.log('val_loss: inf\\nval_loss: 0.8')"));
    expect(ok(recovered).val_loss).toEqual([0.8]);
  });

  it('splits progress-bar output on carriage returns', async () => {
    const dir = tmpDir();
    const s = sampleOf(dir, path.join(dir, 'run.log'), "for (const v of [3, 2, 1]) process.stdout.write('\\rstep loss=' + v); process.stdout.write('\\n')");
    const r = await regexSource(RegexSourceSpec.parse({ kind: 'regex', metric: 'loss', pattern: '^step loss=(\\d+)$', pick: 'all' })).read(s);
    expect(ok(r).loss).toEqual([3, 2, 1]);
  });

  it('drops a byte order mark that starts a line (a .NET program\'s first line), with CRLF line ends, so an anchored pattern matches', async () => {
    const dir = tmpDir();
    const program = "process.stdout.write('\\uFEFFval_loss: 1.5\\r\\nepoch 2 50%\\r\\uFEFFval_loss: 2\\r\\n')";
    const s = sampleOf(dir, path.join(dir, 'bom.log'), program);
    const r = await regexSource(spec({ pattern: '^val_loss: ([0-9.]+)$', pick: 'all' })).read(s);
    expect(ok(r).val_loss).toEqual([1.5, 2]);
  });

  it('skips lines over the cap, so a backtracking pattern never sees them', async () => {
    const dir = tmpDir();
    // (a+)+b against 50 000 a's would backtrack for ages; the cap keeps it off that line.
    const s = sampleOf(dir, path.join(dir, 'run.log'), "console.log('a'.repeat(50000)); console.log('aab')");
    const r = await regexSource(RegexSourceSpec.parse({ kind: 'regex', metric: 'n', pattern: '(a+)+b', max_line_length: 1000 })).read(s);
    expect(r).toEqual({ ok: false, reason: 'regex /(a+)+b/ matched no number in the output' });
    const r2 = await regexSource(RegexSourceSpec.parse({ kind: 'regex', metric: 'n', pattern: '^(\\d+)$', max_line_length: 1000 })).read(
      sampleOf(dir, path.join(dir, 'b.log'), "console.log('x'.repeat(5000)); console.log('42')"),
    );
    expect(ok(r2).n).toEqual([42]);
    expect(r2.ok && r2.warnings).toEqual(['regex /^(\\d+)$/: skipped 1 line(s) longer than 1000 characters']);
  });

  it('decodes UTF-8 split across read chunks', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'u.log');
    // 65 535 ASCII bytes put the 3-byte "µs" prefix across the 64 KiB chunk boundary.
    fs.writeFileSync(file, `${'x'.repeat(65_535)}\nµs=12\n`);
    const lines: string[] = [];
    await scanLines(file, 0, fs.statSync(file).size, 100_000, (l) => lines.push(l));
    expect(lines).toEqual(['x'.repeat(65_535), 'µs=12']);
  });

  it('refuses at parse time a pattern without a capture group, a bad pattern and a missing group', () => {
    const err = (v: object) => {
      const r = RegexSourceSpec.safeParse({ kind: 'regex', metric: 'm', ...v });
      return r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    expect(err({ pattern: 'val_loss: [0-9.]+' })).toMatch(/^pattern: needs a capture group/);
    expect(err({ pattern: 'val_loss: ([0-9.]+' })).toMatch(/^pattern: is not a valid regular expression/);
    expect(err({ pattern: '(a)', group: 2 })).toBe('group: is 2 but the pattern has 1 capture group(s)');
    expect(err({ pattern: '(a)', flags: 'g' })).toMatch(/^flags: may only hold/);
    expect(err({ pattern: '(a)', extra: 1 })).toMatch(/extra|Unrecognized/i);
    expect(err({ pattern: '(?:x)(\\d)' })).toBe('');
  });
});

describe('json source', () => {
  const PY = `
import json, math
json.dump({"results": [{"mean": 1.25, "times": [1.0, 1.5]}], "stddev": float("nan"), "a b": {"c": 3}}, open("out.json", "w"))
`;
  function pySample(dir: string, code: string): SampleOutput {
    const startedAtMs = Date.now();
    const r = spawnSync('python3', ['-c', code], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
    return { cwd: dir, log: { file: path.join(dir, 'none.log'), start: 0, end: 0 }, startedAtMs };
  }
  const json = (metrics: Record<string, string>, file = 'out.json') => jsonSource(JsonSourceSpec.parse({ kind: 'json', file, metrics }));

  it('reads numbers and arrays of numbers by path from a file Python wrote', async () => {
    const dir = tmpDir();
    const s = pySample(dir, PY);
    const r = await json({ mean: 'results[0].mean', t: '$.results[-1].times', c: '["a b"].c' }).read(s);
    expect(ok(r)).toEqual({ mean: [1.25], t: [1.0, 1.5], c: [3] });
  });

  it("turns Python's NaN into a clear failure instead of an unreadable file", async () => {
    const dir = tmpDir();
    const s = pySample(dir, PY);
    const r = await json({ sd: 'stddev' }).read(s);
    expect(r).toEqual({ ok: false, reason: 'json out.json: stddev holds only non-finite values' });
  });

  it('reads a file written with a byte order mark (Python\'s utf-8-sig, PowerShell), which JSON.parse alone refuses', async () => {
    const dir = tmpDir();
    const s = pySample(dir, 'import json; json.dump({"mean": 1.25}, open("out.json", "w", encoding="utf-8-sig"))');
    expect(fs.readFileSync(path.join(dir, 'out.json'))[0]).toBe(0xef);
    expect(ok(await json({ mean: 'mean' }).read(s))).toEqual({ mean: [1.25] });
  });

  it('names the missing piece, a non-number, a stale file and a missing file', async () => {
    const dir = tmpDir();
    const s = pySample(dir, PY);
    expect(await json({ m: 'results[3].mean' }).read(s)).toEqual({ ok: false, reason: 'json out.json: no value at results[3].mean (missing results[3] (array has 1 item(s)))' });
    expect(await json({ m: 'results[0]' }).read(s)).toEqual({ ok: false, reason: 'json out.json: results[0] is an object, not a number' });
    expect(await json({ m: 'results' }, 'missing.json').read(s)).toEqual({ ok: false, reason: 'json missing.json: missing.json was not written' });
    const later = { ...s, startedAtMs: fs.statSync(path.join(dir, 'out.json')).mtimeMs + 5_000 };
    expect(await json({ m: 'results[0].mean' }).read(later)).toEqual({ ok: false, reason: 'json out.json: out.json is stale (last written before this sample started)' });
  });

  it('parses the documented path syntax and refuses bad paths at parse time', () => {
    expect(parseJsonPath('results[0].mean')).toEqual([{ key: 'results' }, { index: 0 }, { key: 'mean' }]);
    expect(parseJsonPath('$.a["x.y"][-2]')).toEqual([{ key: 'a' }, { key: 'x.y' }, { index: -2 }]);
    expect(parseJsonPath('$')).toEqual([]);
    expect(getJsonPath({ a: [1, 2, 3] }, parseJsonPath('a[-1]') as never)).toEqual({ value: 3 });
    expect(getJsonPath({ a: {} }, parseJsonPath('a.constructor') as never)).toEqual({ missing: 'a.constructor' });
    const r = JsonSourceSpec.safeParse({ kind: 'json', file: 'x.json', metrics: { m: 'a..b' } });
    expect(r.success).toBe(false);
    expect(!r.success && r.error.issues[0]?.message).toMatch(/^bad path: expected a name/);
    const r2 = JsonSourceSpec.safeParse({ kind: 'json', file: 'x.json', metrics: {} });
    expect(!r2.success && r2.error.issues[0]?.message).toBe('must name at least one metric');
  });
});
