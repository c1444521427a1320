// finalize reads the keeps through the run index (only their lines parsed)
// and falls back to every ledger line when the index does not match: both
// ways give the same keeps, and the same branch, on a real engine's ledger
// of two segments with keeps, discards and a crash.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { benchRepo, expDir, git, init, run, step, write } from './helpers/loop.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { keptFast, keptSource, keptWhole } from '../scripts/lib/kept-source.ts';

/** What a finalize made: each commit's subject and change, and what it skipped. */
function made(repo: string, json: Record<string, unknown>) {
  const commits = (json.commits as { sha: string; subject: string; runs: string[] }[]).map((c) => ({
    subject: c.subject,
    runs: c.runs,
    diff: git(repo, 'diff', `${c.sha}^`, c.sha),
  }));
  return { base: json.base, commits, skipped: json.skipped, tree: git(repo, 'rev-parse', `${String(json.head)}^{tree}`) };
}

describe('finalize through the run index', () => {
  let repo = '';
  beforeAll(() => {
    repo = benchRepo('100');
    expect(init(repo, 'fin', ['--max-runs', 'none']).code).toBe(0);
    step(repo, 'baseline');
    step(repo, 'halve the loop', '90');
    step(repo, 'unroll everything', '95');
    step(repo, 'use the broken cache', 'crash');
    write(repo, 'src/extra.txt', 'helper\n');
    step(repo, 'inline the hot call', '80');
    // A second segment: its baseline, then one more keep.
    expect(init(repo, 'fin', ['--max-runs', 'none', '--goal', 'smaller still']).code).toBe(0);
    step(repo, 'baseline of segment 2');
    step(repo, 'batch the writes', '70');
    run('report', [], repo); // the run index is up to date
  });

  it('finds the same keeps through the index as from every line', () => {
    const exp = openExperiment(repo, 'fin');
    const fast = keptFast(exp);
    expect(fast).not.toBeNull();
    expect(fast).toEqual(keptWhole(exp));
    expect(fast?.kept.map((k) => [k.run_id, k.baseline])).toEqual([
      ['r0001', true],
      ['r0002', false],
      ['r0005', false],
      ['r0006', true],
      ['r0007', false],
    ]);
    expect(fast?.start).toBe(git(repo, 'rev-parse', 'main'));
  });

  it('makes the same branch when the index does not match the ledger (it reads every line instead)', () => {
    const first = run('finalize', ['--json'], repo);
    expect(first.code, first.stderr).toBe(0);
    const a = made(repo, first.json as Record<string, unknown>);
    const report = path.join(expDir(repo, 'fin'), 'report.md');
    const reportA = fs.readFileSync(report, 'utf8');
    expect(reportA).toBe(run('report', [], repo).stdout);
    expect(a.commits.map((c) => c.subject)).toEqual(['halve the loop', 'inline the hot call', 'batch the writes']);

    // The last result record names another run: its ledger line does not read back as that run.
    const idx = path.join(expDir(repo, 'fin'), 'runs.idx');
    const buf = fs.readFileSync(idx);
    let at = buf.length - 32;
    while (at >= 0 && buf[at] !== 1) at -= 32;
    expect(at).toBeGreaterThanOrEqual(0);
    buf.writeDoubleLE(buf.readDoubleLE(at + 24) + 1, at + 24);
    fs.writeFileSync(idx, buf);
    expect(keptFast(openExperiment(repo, 'fin'))).toBeNull();
    fs.writeFileSync(idx, buf);
    // In-process too: the fallback gives the same keeps.
    expect(keptSource(openExperiment(repo, 'fin'))).toEqual(keptWhole(openExperiment(repo, 'fin')));
    fs.writeFileSync(idx, buf);

    const second = run('finalize', ['--json', '--branch', 'again'], repo);
    expect(second.code, second.stderr).toBe(0);
    expect(made(repo, second.json as Record<string, unknown>)).toEqual(a);
    expect(fs.readFileSync(report, 'utf8')).toBe(reportA);
    // The bad index was dropped (and rebuilt), never trusted.
    expect(fs.existsSync(idx) ? fs.readFileSync(idx).equals(buf) : false).toBe(false);
  });
});
