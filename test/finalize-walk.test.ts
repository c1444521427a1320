// The report and finalize take their counts, keeps and dead ends from one
// walk of the run index (index-walk.ts) and read back only what they list.
// On a history of two segments with rebaselines (ok and crashed), crashes,
// timeouts, a segment baseline without files of its own, keeps that carry
// the commit before them, a committed event logged after the next run and
// one logged again later (a reconcile), what they say is what every ledger
// line says; finalize lists the first 20 keeps it skips and counts them all.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { benchRepo, expDir, git, init, misnameLastIndexedResult, run, write } from './helpers/loop.ts';
import type { LedgerLine, Verdict } from '../scripts/lib/schema.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { fastSource, REPORT_CAPS, wholeSource } from '../scripts/lib/report-source.ts';
import { keptRefsFast, keptWhole } from '../scripts/lib/kept-source.ts';

const SEG1 = 120;
const RUNS = 200;
const id = (i: number) => `r${String(i).padStart(4, '0')}`;

/** Run i's shape: a keep every 10th (and each segment's first), rebaselines, crashes, a timeout now and then. */
function shape(i: number): { verdict: Verdict; status: 'ok' | 'crash' | 'timeout'; rebaseline: boolean } {
  if (i === 1 || i === SEG1 + 1 || i % 10 === 0) return { verdict: 'keep', status: 'ok', rebaseline: false };
  if (i % 25 === 3) return { verdict: 'discard', status: 'ok', rebaseline: true };
  if (i % 25 === 8) return { verdict: 'crash', status: 'crash', rebaseline: true };
  if (i % 7 === 0) return { verdict: 'crash', status: 'crash', rebaseline: false };
  if (i % 31 === 0) return { verdict: 'timeout', status: 'timeout', rebaseline: false };
  return { verdict: 'discard', status: 'ok', rebaseline: false };
}

/** The history written after init's config line: segment 2 opens with a copy of it. `real` is a commit of its own (r0040's, by a later event). */
function writeHistory(repo: string, head: string, real: string): void {
  const file = path.join(expDir(repo, 'w'), 'ledger.jsonl');
  const config = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0] as string) as Record<string, unknown>;
  const lines: string[] = [];
  let late: string | null = null;
  for (let i = 1; i <= RUNS; i++) {
    const segment = i > SEG1 ? 2 : 1;
    if (i === SEG1 + 1) lines.push(JSON.stringify({ ...config, segment: 2 }));
    const { verdict, status, rebaseline } = shape(i);
    const keep = verdict === 'keep';
    const v = status === 'ok' ? 1000 - i + (i % 7) : null;
    const line: LedgerLine = {
      type: 'result', ts: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(), segment, run_id: id(i),
      status, verdict, primary: v, samples: v === null ? [] : [v], metrics: v === null ? {} : { score: v },
      description: `idea ${i}`, hypothesis: i % 3 === 0 ? `guess ${i}` : null, reason: keep ? 'improved' : 'not better',
      delta: keep ? 1 : -1, duration_s: 1, files: i === SEG1 + 1 ? [] : ['src/value.txt'], rebaseline, evidence: [],
      invocations: [], decision: null, net_lines_removed: 0, gates: [], kind: keep ? 'improved' : 'none',
    };
    const event = (run: string, commit: string | null) => JSON.stringify({ type: 'event', ts: line.ts, segment, event: commit ? 'committed' : 'reverted', run_id: run, data: commit ? { commit } : {} });
    lines.push(JSON.stringify(line));
    // r0030's committed event comes after r0031's lines; r0040's is logged again at r0045, naming a commit of its own.
    if (i === 30) late = event(id(30), head);
    else lines.push(event(id(i), keep ? head : null));
    if (i === 31 && late) lines.push(late);
    if (i === 45) lines.push(event(id(40), real));
  }
  fs.appendFileSync(file, lines.join('\n') + '\n');
  for (const f of fs.readdirSync(path.dirname(file))) if (f.startsWith('state') || f.endsWith('.f64')) fs.rmSync(path.join(path.dirname(file), f));
}

const keeps = Array.from({ length: RUNS }, (_, k) => k + 1).filter((i) => shape(i).verdict === 'keep');

describe('the report and finalize through one walk of the run index', () => {
  let repo = '';
  let real = '';
  beforeAll(() => {
    repo = benchRepo('100');
    expect(init(repo, 'w', ['--max-runs', 'none', '--plateau', 'none']).code).toBe(0);
    const head = git(repo, 'rev-parse', 'HEAD');
    // A commit of its own, on a side branch: another value.
    git(repo, 'checkout', '-q', '-b', 'side');
    write(repo, 'src/value.txt', '90');
    git(repo, 'commit', '-qam', 'r0040');
    real = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'checkout', '-q', 'main');
    writeHistory(repo, head, real);
    expect(run('report', [], repo).code).toBe(0); // the run index is up to date
  });

  it('says in the report what every ledger line says, capped and not', () => {
    const exp = openExperiment(repo, 'w');
    const whole = wholeSource(exp, REPORT_CAPS);
    expect(fastSource(exp, REPORT_CAPS, { terminatedBy: null })).toEqual(whole);
    const none = { kept: RUNS, dead_ends: RUNS, hypotheses: RUNS };
    expect(fastSource(exp, none, { terminatedBy: null })).toEqual(wholeSource(exp, none));
    // What the history holds, as the walk must count it.
    expect(whole.segments).toBe(2);
    expect(whole.kept_total).toBe(keeps.length);
    // The second segment's baseline committed no file of its own: not a change.
    expect(whole.changes_total).toBe(keeps.length - 1);
    expect(whole.runs.rebaselines).toBe(16);
    expect(whole.runs.by_verdict.timeout).toBeGreaterThan(0);
    const at = (run: number) => wholeSource(exp, none).kept.find((k) => k.run_id === id(run));
    // The later of r0040's committed events names its commit; r0030's, logged after r0031, is found.
    expect(at(40)?.commit).toBe(real);
    expect(at(30)?.commit).toBe(git(repo, 'rev-parse', 'main'));
    // The best before r0030 is r0028's ok rebaseline (1000 - 28 + 0); r0121 is a baseline.
    expect(at(30)?.from).toBe(972);
    expect(at(SEG1 + 1)).toMatchObject({ baseline: true, from: null });
  });

  it('gives finalize every keep with its commit, as every line does', () => {
    const exp = openExperiment(repo, 'w');
    expect(keptRefsFast(exp)?.refs).toEqual(keptWhole(exp).kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline })));
  });

  it('checks a sidecar record whose commit is not the one before it; a damaged one is read from the ledger', () => {
    const side = path.join(expDir(repo, 'w'), 'commits.idx');
    const good = fs.readFileSync(side);
    const refs = () => keptRefsFast(openExperiment(repo, 'w'))?.refs;
    const whole = keptWhole(openExperiment(repo, 'w')).kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline }));
    // Record 9 (r0080) carries the same commit as record 8 (r0070): a flipped byte of its commit makes it another, which fails its checksum.
    expect(good.subarray(9 * 64 + 24, 9 * 64 + 56).equals(good.subarray(8 * 64 + 24, 8 * 64 + 56))).toBe(true);
    const bad = Buffer.from(good);
    bad[9 * 64 + 30] = (bad[9 * 64 + 30] as number) ^ 0xff;
    fs.writeFileSync(side, bad);
    expect(refs()).toEqual(whole);
    // Rewritten with the keeps' events (r0040's first event, which its later one overrides, is left out): r0080's record whole again.
    const again = fs.readFileSync(side);
    expect(again.indexOf(good.subarray(9 * 64, 10 * 64)) % 64).toBe(0);
    expect(again.indexOf(bad.subarray(9 * 64, 10 * 64))).toBe(-1);
    // Its checksum flipped instead: its bytes are still the commit before it, at the offset and run the index names, and it is used as it is.
    const sum = Buffer.from(good);
    sum[9 * 64 + 56] = (sum[9 * 64 + 56] as number) ^ 0xff;
    fs.writeFileSync(side, sum);
    expect(refs()).toEqual(whole);
    expect(fs.readFileSync(side).equals(sum)).toBe(true);
    fs.writeFileSync(side, good);
  });

  it('replays the one keep with a commit of its own, lists the first 20 skipped and counts them all, through the index or not', () => {
    const fast = run('finalize', ['--json', '--branch', 'fast'], repo);
    expect(fast.code, fast.stderr).toBe(0);
    const j = fast.json as Record<string, unknown>;
    expect((j.commits as { runs: string[] }[]).map((c) => c.runs)).toEqual([['r0040']]);
    const skipped = j.skipped as { run_id: string; reason: string }[];
    expect(skipped).toHaveLength(20);
    expect(j.skipped_total).toBe(keeps.length - 1);
    expect(skipped.map((s) => s.run_id)).toEqual(keeps.filter((i) => i !== 40).slice(0, 20).map(id));
    expect(skipped[0]?.reason).toBe('baseline measurement (no change of its own)');
    expect(skipped[1]?.reason).toBe('no commit of its own');
    // The JSON keeps its keys in the order it always had.
    expect(Object.keys(j).slice(-4)).toEqual(['report', 'user_branch', 'skipped_total', 'best_artifacts']);
    const report = fs.readFileSync(path.join(expDir(repo, 'w'), 'report.md'), 'utf8');
    expect(report).toBe(run('report', [], repo).stdout);
    const text = run('finalize', ['--branch', 'text'], repo);
    expect(text.stdout).toContain(`(+${keeps.length - 1 - 20} more)`);

    // The index made to disagree with the ledger (the last result names another run): every line is read, the same comes out.
    misnameLastIndexedResult(repo, 'w');
    const slow = run('finalize', ['--json', '--branch', 'slow'], repo);
    expect(slow.code, slow.stderr).toBe(0);
    const s = slow.json as Record<string, unknown>;
    expect(s.skipped).toEqual(j.skipped);
    expect(s.skipped_total).toBe(j.skipped_total);
    expect(git(repo, 'rev-parse', 'slow^{tree}')).toBe(git(repo, 'rev-parse', 'fast^{tree}'));
    expect(fs.readFileSync(path.join(expDir(repo, 'w'), 'report.md'), 'utf8')).toBe(report);
  });
});
