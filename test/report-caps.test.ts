// report on a long history: its lists are capped (the newest of each, then
// one line saying how many more and where they are), its counts stay exact,
// and what it says is the same whether it comes through the run index or
// from every ledger line. The ledger is written as bench/engine.ts writes
// its synthetic histories, with hypotheses, crashes, rebaselines and a torn
// last line mixed in.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { benchRepo, expDir, git, init, misnameLastIndexedResult, run } from './helpers/loop.ts';
import type { LedgerLine, Verdict } from '../scripts/lib/schema.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { fastSource, REPORT_CAPS, wholeSource } from '../scripts/lib/report-source.ts';

const RUNS = 2500;

/** Run i's verdict: a keep every 10th, a crash every 7th, a rebaseline every 50th, else a discard. */
function verdictOf(i: number): { verdict: Verdict; rebaseline: boolean } {
  if (i === 1 || i % 10 === 0) return { verdict: 'keep', rebaseline: false };
  if (i % 50 === 5) return { verdict: 'discard', rebaseline: true };
  return { verdict: i % 7 === 0 ? 'crash' : 'discard', rebaseline: false };
}

function writeHistory(repo: string): void {
  const head = git(repo, 'rev-parse', 'HEAD').trim();
  const lines: string[] = [];
  for (let i = 1; i <= RUNS; i++) {
    const { verdict, rebaseline } = verdictOf(i);
    const keep = verdict === 'keep';
    const v = verdict === 'crash' ? null : 1000 - i * 0.01 + (i % 7);
    const line: LedgerLine = {
      type: 'result', ts: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(), segment: 1, run_id: `r${String(i).padStart(4, '0')}`,
      status: verdict === 'crash' ? 'crash' : 'ok', verdict, primary: v, samples: v === null ? [] : [v], metrics: v === null ? {} : { score: v },
      description: `idea number ${i}`, hypothesis: i % 3 === 0 ? `guess ${i}` : i % 3 === 1 ? '' : null, reason: keep ? 'improved' : 'not better',
      delta: keep ? 1 : -1, duration_s: 1.2, files: ['src/value.txt'], rebaseline, evidence: i % 11 === 0 ? [{ file: `notes/${i}.txt`, what: 'a trace', sha256: 'a'.repeat(64) }] : [],
      invocations: [], decision: null, net_lines_removed: 0, gates: [], kind: keep ? 'improved' : 'none',
    };
    lines.push(JSON.stringify(line));
    lines.push(JSON.stringify({ type: 'event', ts: line.ts, segment: 1, event: keep ? 'committed' : 'reverted', run_id: line.run_id, data: keep ? { commit: head } : {} }));
  }
  const dir = expDir(repo, 'big');
  // A torn last line: a write cut short.
  fs.appendFileSync(path.join(dir, 'ledger.jsonl'), lines.join('\n') + '\n{"type":"result","ts":"2026');
  for (const f of fs.readdirSync(dir)) if (f.startsWith('state') || f.endsWith('.f64')) fs.rmSync(path.join(dir, f));
}

// What the generator wrote, counted here.
const all = Array.from({ length: RUNS }, (_, k) => ({ i: k + 1, ...verdictOf(k + 1) }));
const keeps = all.filter((r) => r.verdict === 'keep');
const deadEnds = all.filter((r) => r.verdict !== 'keep' && !r.rebaseline);
const withHypothesis = all.filter((r) => r.i % 3 === 0 || r.i % 11 === 0);

describe('report of a long history', () => {
  let repo = '';
  beforeAll(() => {
    repo = benchRepo('100');
    expect(init(repo, 'big', ['--max-runs', 'none', '--plateau', 'none']).code).toBe(0);
    writeHistory(repo);
  });

  it('lists the newest keeps, dead ends and hypotheses with exact counts, and says where the rest are', () => {
    const r = run('report', ['--json'], repo);
    expect(r.code).toBe(0);
    const j = r.json as Record<string, unknown>;
    const count = (v: Verdict) => all.filter((x) => x.verdict === v).length;
    expect(j.runs).toEqual({ total: RUNS, by_verdict: { keep: count('keep'), discard: count('discard'), crash: count('crash'), timeout: 0, checks_failed: 0, invalid: 0 }, rebaselines: all.filter((x) => x.rebaseline).length });
    expect(j.totals).toMatchObject({ kept: keeps.length, changes: keeps.length, dead_ends: deadEnds.length, hypotheses: withHypothesis.length });
    expect(j.truncated).toBe(true);
    const id = (i: number) => `r${String(i).padStart(4, '0')}`;
    expect((j.kept as { run_id: string }[]).map((k) => k.run_id)).toEqual(keeps.slice(-REPORT_CAPS.kept).map((k) => id(k.i)));
    expect((j.dead_ends as { run_id: string }[]).map((k) => k.run_id)).toEqual(deadEnds.slice(-REPORT_CAPS.dead_ends).map((k) => id(k.i)));
    expect((j.hypotheses as { run_id: string }[]).map((k) => k.run_id)).toEqual(withHypothesis.slice(-REPORT_CAPS.hypotheses).map((k) => id(k.i)));
    expect(j.warnings).toEqual([expect.stringContaining('torn last line')]);

    const md = run('report', [], repo).stdout;
    const ledger = '.autoloop/experiments/big/ledger.jsonl';
    const kept = md.split(`## Kept changes (${keeps.length})`)[1]?.split('## Dead ends')[0]?.trim().split('\n') ?? [];
    expect(kept).toHaveLength(REPORT_CAPS.kept + 1);
    expect(kept[0]).toMatch(new RegExp(`^${keeps.length - REPORT_CAPS.kept + 1}\\. ${id(keeps[keeps.length - REPORT_CAPS.kept]!.i)} `));
    expect(kept[REPORT_CAPS.kept]).toBe(`… and ${keeps.length - REPORT_CAPS.kept} more (full history: ${ledger}, or the dashboard)`);
    const dead = md.split(`## Dead ends (${deadEnds.length})`)[1]?.split('## Hypotheses')[0]?.trim().split('\n') ?? [];
    expect(dead).toHaveLength(REPORT_CAPS.dead_ends + 1);
    expect(dead[REPORT_CAPS.dead_ends]).toBe(`… and ${deadEnds.length - REPORT_CAPS.dead_ends} more (full history: ${ledger}, or the dashboard)`);
    expect(md).toContain(`## Hypotheses and outcomes (${withHypothesis.length})`);
    expect(md).toContain(`**Runs:** ${RUNS} (${count('keep')} keep, ${count('discard')} discard, ${count('crash')} crash)`);
    // A page a person reads, not the history.
    expect(md.split('\n').length).toBeLessThan(250);
  });

  it('says the same through the run index as from every ledger line', () => {
    run('report', [], repo); // the index is up to date
    const exp = openExperiment(repo, 'big');
    const fast = fastSource(exp, REPORT_CAPS, { terminatedBy: null });
    expect(fast).not.toBeNull();
    expect(fast).toEqual(wholeSource(exp, REPORT_CAPS));
    // Without caps, the whole lists agree too.
    const none = { kept: RUNS, dead_ends: RUNS, hypotheses: RUNS };
    expect(fastSource(exp, none, { terminatedBy: null })).toEqual(wholeSource(exp, none));
  });

  it('says the same from a state cache written before it counted hypotheses (it scans the ledger for them)', () => {
    const before = run('report', ['--json'], repo).json as Record<string, unknown>;
    const file = path.join(expDir(repo, 'big'), 'state.json');
    const { hypotheses: _h, terminated_messages: _t, ...older } = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify(older));
    const after = run('report', ['--json'], repo).json as Record<string, unknown>;
    expect(after.hypotheses).toEqual(before.hypotheses);
    expect(after.totals).toEqual(before.totals);
  });

  it('drops a run index that does not match the ledger and reads every line instead', () => {
    const before = run('report', [], repo).stdout;
    const { idx, buf } = misnameLastIndexedResult(repo, 'big');
    expect(run('report', [], repo).stdout).toBe(before);
    expect(fs.existsSync(idx) ? fs.readFileSync(idx).equals(buf) : false).toBe(false);
  });
});
