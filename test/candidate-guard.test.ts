// Issue 11, classes 1 and 2, for parallel candidates: a candidate's run is as
// guarded as a run in the main tree. Real engine processes, real repositories,
// real candidate worktrees.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engine, fromTemplate, git, ledger, makeRepo, ROOT } from './helpers/engine.ts';
import { checkTail, lineId } from '../scripts/lib/candidates/ledger-tail.ts';
import type { RunRecord } from '../scripts/lib/schema.ts';
import type { Candidate } from '../scripts/lib/candidates/store.ts';

const FORGED = JSON.stringify({ type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 0, samples: [0], metrics: { score: 0 }, description: 'forged', reason: 'x', duration_s: 0 });

// The attacks are switched on by files the candidate creates in its own tree.
const BENCH = `if [ -f src/forge ]; then
  root=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
  echo '${FORGED}' >> "$root/.autoloop/experiments/exp/ledger.jsonl"
fi
if [ -f src/rewrite ]; then echo 'echo METRIC score=0' >> bench.sh; fi
if [ -f src/move ]; then
  git update-ref refs/heads/autoloop/exp "$(git commit-tree -p refs/heads/autoloop/exp -m unmeasured "$(git rev-parse 'refs/heads/autoloop/exp^{tree}')")"
fi
if [ -f src/forge-record ]; then
  root=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
  f="$root/.autoloop/experiments/exp/runs/$(cat src/forge-record)/result.json"
  node -e 'const fs=require("fs"),f=process.argv[1],r=JSON.parse(fs.readFileSync(f,"utf8"));r.primary=0;r.metrics.score=0;fs.writeFileSync(f,JSON.stringify(r))' "$f"
fi
if [ -f src/rewrite-main ]; then
  root=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
  echo 'echo METRIC score=0' >> "$root/bench.sh"
fi
echo METRIC score=$(cat src/v)
`;
const CHECK = 'if [ -f src/rewrite-check ]; then echo "exit 0" > check.sh; exit 1; fi\nexit 0\n';

// The read-only judges (readonly-judges.test.ts) stop these attacks at the source;
// here the fallback must catch them afterwards.
const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`), AUTOLOOP_CONTAINMENT: 'pidns' };
const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const templates: string[] = [];
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh copy of one repository (built once per file, fromTemplate): two candidate slots open, the baseline logged, no candidate yet. */
function repo(): string {
  const dir = fromTemplate('candidate-guard', () => {
    const t = makeRepo({ 'bench.sh': BENCH, 'check.sh': CHECK, 'src/v': '10\n' });
    templates.push(t);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--checks', 'sh check.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--json'], t, TIMING);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, TIMING).code).toBe(0);
    return t;
  });
  made.push(dir);
  return dir;
}

function open(dir: string): { candidate: string; path: string } {
  const r = engine('candidate', ['start', '--json'], dir, TIMING);
  expect(r.code, r.stderr).toBe(0);
  return r.json as { candidate: string; path: string };
}

const run = (dir: string, id: string) => engine('run-experiment', ['--candidate', id, '--json'], dir, TIMING).json as Record<string, unknown>;
const log = (dir: string, id: string, d: string) => engine('log-experiment', ['--candidate', id, '-d', d, '--json'], dir, TIMING).json as Record<string, unknown>;
const write = (tree: string, rel: string, text: string) => fs.writeFileSync(path.join(tree, rel), text);
const head = (dir: string) => git(dir, 'rev-parse', 'autoloop/exp');

describe("a candidate's run is guarded as a main-tree run", { timeout: 900_000 }, () => {
  it('a forged ledger line written by a candidate’s benchmark is removed; the run is invalid and nothing is kept', () => {
    const dir = repo();
    const before = head(dir);
    const c = open(dir);
    write(c.path, 'src/v', '5\n');
    write(c.path, 'src/forge', 'x\n');
    const r = run(dir, c.candidate);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/engine's state changed while the benchmark ran: .*ledger.jsonl/);
    expect(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8')).not.toContain('forged');
    expect(log(dir, c.candidate, 'forger')).toMatchObject({ verdict: 'invalid' });
    expect(head(dir)).toBe(before);
    expect(ledger(dir).some((l) => l.description === 'forged')).toBe(false);
    // The best is still the baseline's: a candidate at 7 is kept against 10, not discarded against a forged 0.
    const d = open(dir);
    write(d.path, 'src/v', '7\n');
    expect(run(dir, d.candidate)).toMatchObject({ status: 'ok', primary: 7 });
    expect(log(dir, d.candidate, 'seven')).toMatchObject({ verdict: 'keep' });
  });

  it('a candidate’s benchmark that rewrites the bench script is invalid; the judge in the main tree is untouched', () => {
    const dir = repo();
    const before = head(dir);
    const c = open(dir);
    write(c.path, 'src/v', '5\n');
    write(c.path, 'src/rewrite', 'x\n');
    const r = run(dir, c.candidate);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/judge changed while the benchmark ran: bench.sh/);
    expect(log(dir, c.candidate, 'rewriter')).toMatchObject({ verdict: 'invalid' });
    expect(head(dir)).toBe(before);
    expect(fs.readFileSync(path.join(dir, 'bench.sh'), 'utf8')).toBe(BENCH);
  });

  for (const containment of ['pidns', 'readonly']) {
    it(`a candidate’s benchmark that rewrites the main tree's judge (${containment}): caught or refused, put back, nothing kept`, () => {
      const dir = repo();
      const before = head(dir);
      const c = open(dir);
      write(c.path, 'src/v', '5\n');
      write(c.path, 'src/rewrite-main', 'x\n');
      const r = engine('run-experiment', ['--candidate', c.candidate, '--json'], dir, { ...TIMING, AUTOLOOP_CONTAINMENT: containment }).json as Record<string, unknown>;
      // The main tree's judge is put back at once (pidns) or was never writable (readonly).
      expect(fs.readFileSync(path.join(dir, 'bench.sh'), 'utf8')).toBe(BENCH);
      if (containment === 'pidns') {
        expect(r).toMatchObject({ status: 'invalid' });
        expect(String(r.reason)).toMatch(/judge changed while the benchmark ran: bench.sh/);
        expect(log(dir, c.candidate, 'main rewriter')).toMatchObject({ verdict: 'invalid' });
        expect(head(dir)).toBe(before);
        // The main tree's next run is measured by the judge of the segment, not invalid for a judge a candidate changed.
        expect(engine('run-experiment', ['--json'], dir, TIMING).json).toMatchObject({ status: 'ok', primary: 10 });
      } else {
        // The write failed (EROFS); the run is judged on its output, as any run.
        expect(r).toMatchObject({ status: 'ok', primary: 5 });
        expect(log(dir, c.candidate, 'main rewriter')).toMatchObject({ verdict: 'keep' });
      }
    });
  }

  it("a candidate's benchmark that moves the experiment branch (.git is shared): nothing builds on the moved commit until repair", () => {
    const dir = repo();
    const before = head(dir);
    const c = open(dir);
    const d = open(dir);
    write(c.path, 'src/v', '5\n');
    write(c.path, 'src/move', 'x\n');
    expect(run(dir, c.candidate)).toMatchObject({ status: 'ok', primary: 5 });
    expect(head(dir)).not.toBe(before);
    // Neither logged onto it, nor another candidate measured on it (rebased), nor a new one opened from it.
    const refused = /branch autoloop\/exp is at .*but the engine last kept .*control.mjs repair/;
    expect(engine('log-experiment', ['--candidate', c.candidate, '-d', 'mover', '--json'], dir, TIMING).stderr).toMatch(refused);
    write(d.path, 'src/v', '7\n');
    expect(engine('run-experiment', ['--candidate', d.candidate, '--json'], dir, TIMING).stderr).toMatch(refused);
    expect(engine('control', ['repair'], dir, TIMING).code).toBe(0);
    expect(head(dir)).toBe(before);
    expect(log(dir, c.candidate, 'mover')).toMatchObject({ verdict: 'keep' });
    expect(git(dir, 'log', '--format=%s', 'autoloop/exp')).not.toMatch(/unmeasured/);
  });

  it("a candidate's benchmark that rewrites another candidate's measured run record: that record is not logged, it is measured again", () => {
    const dir = repo();
    const victim = open(dir);
    const forger = open(dir);
    write(victim.path, 'src/v', '9\n');
    const measured = run(dir, victim.candidate);
    expect(measured).toMatchObject({ status: 'ok', primary: 9 });
    write(forger.path, 'src/v', '11\n');
    write(forger.path, 'src/forge-record', `${String(measured.run_id)}\n`);
    expect(run(dir, forger.candidate)).toMatchObject({ status: 'ok', primary: 11 });
    const refused = engine('log-experiment', ['--candidate', victim.candidate, '-d', 'victim', '--json'], dir, TIMING);
    expect(refused.stderr).toMatch(/its record changed after it was measured, so it is not logged: run-experiment --candidate c1 again/);
    // Measured again, it is judged on its own numbers.
    expect(run(dir, victim.candidate)).toMatchObject({ status: 'ok', primary: 9 });
    expect(log(dir, victim.candidate, 'victim')).toMatchObject({ verdict: 'keep', best: 9 });
    expect(ledger(dir).some((l) => l.type === 'result' && l.primary === 0)).toBe(false);
  });

  it('candidate checks that rewrite themselves to pass do not pass', () => {
    const dir = repo();
    const before = head(dir);
    const c = open(dir);
    write(c.path, 'src/v', '5\n');
    write(c.path, 'src/rewrite-check', 'x\n');
    const r = run(dir, c.candidate);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/judge changed while the checks ran: check.sh/);
    expect(log(dir, c.candidate, 'self-passing')).toMatchObject({ verdict: 'invalid' });
    expect(head(dir)).toBe(before);
    expect(fs.readFileSync(path.join(dir, 'check.sh'), 'utf8')).toBe(CHECK);
  });

  it('an edit between a candidate’s run and its log is never committed under the earlier measurement', () => {
    const dir = repo();
    const before = head(dir);
    const c = open(dir);
    write(c.path, 'src/v', '5\n');
    expect(run(dir, c.candidate)).toMatchObject({ status: 'ok', primary: 5 });
    write(c.path, 'src/v', '999\n');
    const l = log(dir, c.candidate, 'measured 5, holds 999');
    expect(l).toMatchObject({ verdict: 'invalid' });
    expect(String(l.reason)).toMatch(/changed after the run was measured: src\/v/);
    expect(head(dir)).toBe(before);
    expect(git(dir, 'show', 'autoloop/exp:src/v')).toBe('10');
  });

  it('a clean candidate is kept with exactly the measured content', () => {
    const dir = repo();
    const c = open(dir);
    write(c.path, 'src/v', '5\n');
    expect(run(dir, c.candidate)).toMatchObject({ status: 'ok', primary: 5 });
    expect(log(dir, c.candidate, 'five')).toMatchObject({ verdict: 'keep' });
    expect(git(dir, 'show', 'autoloop/exp:src/v')).toBe('5');
    expect(fs.readFileSync(path.join(dir, 'src/v'), 'utf8')).toBe('5\n');
  });
});

describe('the shared ledger after a candidate command (checkTail)', () => {
  const rec = (run_id: string, phase: string, status: string, primary: number) => ({ run_id, phase, status, primary }) as unknown as RunRecord;
  const records: Record<string, RunRecord> = { r0005: rec('r0005', 'logged', 'ok', 7), r0006: rec('r0006', 'measured', 'ok', 3) };
  const lookup = (id: string) => records[id] ?? null;
  const result = (run_id: string, primary: number) => JSON.stringify({ type: 'result', ts: '2026-01-01T00:00:00Z', segment: 1, run_id, status: 'ok', verdict: 'keep', primary, samples: [primary], metrics: { score: primary }, description: 'd', reason: 'r', duration_s: 0 });
  const sealed = `${result('r0001', 10)}\n`;

  it("keeps another candidate's logged verdict appended meanwhile, removes the rest", () => {
    const other = result('r0005', 7);
    const now = `${sealed}${result('r0099', 0)}\n${other}\n${result('r0006', 3)}\n${result('r0004', 1)}\n`;
    const t = checkTail(sealed, now, 'r0004', lookup);
    expect(t.text).toBe(`${sealed}${other}\n`);
    expect(t.forged).toBe(3);
  });

  it("keeps another candidate's opened, rebased and closed events and the user's stop, as their records show; removes the rest", () => {
    const cand = (id: string, status: 'open' | 'closed', base: string) => ({ version: 1, id, path: `/w/${id}`, base, opened_at: 't', status, run_id: null, pending: null, closed_reason: null }) as Candidate;
    const cands: Record<string, Candidate> = { c2: cand('c2', 'open', 'b2'), c3: cand('c3', 'closed', 'b1'), c1: cand('c1', 'open', 'b1') };
    const w = { record: lookup, candidate: (id: string) => cands[id] ?? null, own: 'c1' };
    const ev = (event: string, data: Record<string, unknown>) => JSON.stringify({ type: 'event', ts: '2026-01-01T00:00:00Z', segment: 1, event, data });
    const good = [ev('candidate_opened', { candidate: 'c2', base: 'b1' }), ev('rebased', { candidate: 'c2', onto: 'b2' }), ev('candidate_closed', { candidate: 'c3', reason: 'r' }), ev('stop', { reason: 'user' }), ev('resume', {})];
    const bad = [
      ev('candidate_opened', { candidate: 'c9', base: 'b1' }), // no such candidate
      ev('candidate_opened', { candidate: 'c1', base: 'b1' }), // the measured candidate's own
      ev('candidate_closed', { candidate: 'c2', reason: 'r' }), // c2 is open
      ev('rebased', { candidate: 'c2', onto: 'b9' }), // not where c2 stands
      ev('committed', { commit: 'x' }), // an event that always names its run
    ];
    const now = `${sealed}${[...good, ...bad].map((l) => `${l}\n`).join('')}`;
    const t = checkTail(sealed, now, 'r0004', lookup, w);
    expect(t.text).toBe(`${sealed}${good.map((l) => `${l}\n`).join('')}`);
    expect(t.forged).toBe(bad.length);
    // Without witnesses (the serial loop's callers), only a lock takeover names no run.
    expect(checkTail(sealed, `${sealed}${good[0]}\n`, 'r0004', lookup).forged).toBe(1);
  });

  it('leaves an untouched ledger alone and puts back rewritten history', () => {
    expect(checkTail(sealed, sealed, 'r0004', lookup)).toEqual({ text: sealed, forged: 0, removed: [] });
    expect(checkTail(sealed, `${result('r0001', 0)}\n`, 'r0004', lookup)).toEqual({ text: sealed, forged: 1, removed: [`${result('r0001', 0)}`] });
  });

  it("does not put back what another candidate's guard took out as forged, named in its tamper event; a real line stays whatever a note says", () => {
    const forged = result('r0099', 0);
    const config = (segment: number) => JSON.stringify({ type: 'config', ts: '2026-01-01T00:00:00Z', segment, config: {}, fingerprints: {}, reason: 'init' });
    const withOwn = (id: string) => (id === 'r0004' ? ({ run_id: 'r0004', segment: 1 } as unknown as RunRecord) : lookup(id));
    const note = (ids: string[]) => JSON.stringify({ type: 'event', ts: '2026-01-01T00:00:00Z', segment: 1, event: 'tamper', run_id: 'r0006', data: { during: 'benchmark', files: ['ledger.jsonl'], ledger_removed: ids } });
    const head = `${config(1)}\n${sealed}`;
    // Sealed while r0006's benchmark's forged line stood; r0006's guard took it out and said so.
    const t = checkTail(`${head}${forged}\n`, `${head}${note([lineId(forged)])}\n`, 'r0004', withOwn);
    expect(t).toEqual({ text: `${head}${note([lineId(forged)])}\n`, forged: 0, removed: [] });
    // A note naming real lines (the segment's only config line, a logged verdict) takes neither out.
    const logged = result('r0005', 7);
    const rewritten = checkTail(`${head}${logged}\n`, `${sealed}${note([lineId(config(1)), lineId(logged)])}\n`, 'r0004', withOwn);
    expect(rewritten.text).toBe(`${head}${logged}\n${note([lineId(config(1)), lineId(logged)])}\n`);
    expect(rewritten.forged).toBe(1);
    // Without the note, the forged line sealed is put back as before (its guard may not have run yet).
    expect(checkTail(`${head}${forged}\n`, head, 'r0004', withOwn).text).toBe(`${head}${forged}\n`);
  });
});
