// Finding the open parallel candidates reads those, not every candidate ever
// opened: each keeps its folder, so a long parallel history holds thousands,
// and status, the dashboard and every engine call (active.json) asked for the
// open ones by reading them all (0.96 s of status at 10,000). The marks in
// candidates/open/ are checked through the real engine: counted reads, a
// close killed before its mark went, a history written before the marks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, makeRepo, ROOT } from './helpers/engine.ts';

const BENCH = "console.log('METRIC score=' + Number.parseFloat(require('fs').readFileSync('src/value.txt', 'utf8')));\n";
const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-cand-index-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** status --json with candidate.json reads counted: [the reads, the open candidates it shows]. */
function status(dir: string): { reads: number; open: string[] } {
  const counts = path.join(tmp, `counts-${Math.random().toString(36).slice(2)}`);
  const r = engine('status', ['--json'], dir, { AUTOLOOP_COUNT_IO: counts });
  expect(r.code, r.stderr).toBe(0);
  const reads = Number(/^candidate (\d+)$/m.exec(fs.existsSync(counts) ? fs.readFileSync(counts, 'utf8') : '')?.[1] ?? 0);
  return { reads, open: ((r.json as { candidates?: { id: string }[] }).candidates ?? []).map((c) => c.id) };
}

describe('the open candidates, found without reading every candidate', { timeout: 900_000 }, () => {
  const dir = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': '100\n' });
  const cands = path.join(dir, '.autoloop', 'experiments', 'exp', 'candidates');

  it('status reads the open ones only, however many were closed before', () => {
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--parallel', '2'], dir, TIMING).code).toBe(0);
    expect(engine('run-experiment', [], dir, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], dir, TIMING).code).toBe(0);
    // c1 measured and logged (closed), c2 open.
    const c1 = engine('candidate', ['start', '--json'], dir, TIMING).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c1.path, 'src/value.txt'), '120\n');
    expect(engine('run-experiment', ['--candidate', c1.candidate], dir, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['--candidate', c1.candidate, '-d', 'worse'], dir, TIMING).code).toBe(0);
    const c2 = engine('candidate', ['start', '--json'], dir, TIMING).json as { candidate: string };
    expect(c2.candidate).toBe('c2');
    // A long history: 2,000 closed candidates, each with its folder, as the engine leaves them.
    const closed = JSON.parse(fs.readFileSync(path.join(cands, 'c1', 'candidate.json'), 'utf8')) as Record<string, unknown>;
    expect(closed.status).toBe('closed');
    for (let i = 3; i < 2003; i++) {
      fs.mkdirSync(path.join(cands, `c${i}`));
      fs.writeFileSync(path.join(cands, `c${i}`, 'candidate.json'), JSON.stringify({ ...closed, id: `c${i}` }));
    }
    const s = status(dir);
    expect(s.open).toEqual(['c2']);
    expect(s.reads).toBeLessThanOrEqual(3);
    // candidate list agrees, and an engine call (which writes active.json) reads as few.
    expect(engine('candidate', ['list'], dir, TIMING).stdout).toMatch(/c2/);
  });

  it('a close killed before its mark went: the stale mark is skipped, then removed', () => {
    fs.writeFileSync(path.join(cands, 'open', 'c1'), '');
    expect(status(dir).open).toEqual(['c2']);
    expect(fs.existsSync(path.join(cands, 'open', 'c1'))).toBe(false);
  });

  it('a history written before the marks (or marks lost): every folder read once, the marks written, then few again', () => {
    fs.rmSync(path.join(cands, 'open'), { recursive: true });
    const first = status(dir);
    expect(first.open).toEqual(['c2']);
    expect(first.reads).toBeGreaterThan(2000);
    expect(fs.readdirSync(path.join(cands, 'open')).sort()).toEqual(['.complete', 'c2']);
    const again = status(dir);
    expect(again.open).toEqual(['c2']);
    expect(again.reads).toBeLessThanOrEqual(3);
  });

  it('a candidate folder deleted by hand is not shown, and nothing fails', () => {
    fs.rmSync(path.join(cands, 'c2'), { recursive: true, force: true });
    expect(status(dir).open).toEqual([]);
  });

  it('none open and no marks yet: one scan declares the marks complete (it wrote them into a folder it never made)', () => {
    fs.rmSync(path.join(cands, 'open'), { recursive: true });
    expect(status(dir).reads).toBeGreaterThan(2000);
    const again = status(dir);
    expect(again.open).toEqual([]);
    expect(again.reads).toBe(0);
  });
});
