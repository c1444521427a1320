// Parallel candidates through the real engine (bundled entry points), in real
// git repositories with real worktrees and concurrent engine processes; the
// hooks through hooks/run.sh and dist/hooks.mjs as Claude Code runs them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, fromTemplate, git, ledger, makeRepo, ROOT, type EngineResult } from './helpers/engine.ts';

// score = value - bonus: two candidates can improve it through different files.
const BENCH = `
const fs = require('node:fs');
const num = (f) => { try { return Number.parseFloat(fs.readFileSync(f, 'utf8')); } catch { return 0; } };
console.log('METRIC score=' + (num('src/value.txt') - num('src/bonus.txt')));
`;

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const templates: string[] = [];
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A fresh copy of one repository (built once per file, fromTemplate): the
 * experiment opened with two candidate slots and its baseline logged, and the
 * user's untracked files, which are never committed and never deleted.
 */
function repo(): string {
  const dir = fromTemplate('parallel', () => {
    const t = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': '100\n', 'src/other.txt': 'x\n', 'README.md': 'fixture\n' });
    templates.push(t);
    fs.writeFileSync(path.join(t, 'notes.txt'), 'my notes\n');
    fs.writeFileSync(path.join(t, 'src', 'scratch.txt'), 'user scratch in scope\n');
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--json'], t, TIMING);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, TIMING).code).toBe(0);
    return t;
  });
  made.push(dir);
  return dir;
}

/** Each test file gets a timing lock of its own, so parallel test files do not queue on one another. */
const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) };

function start(dir: string): { id: string; path: string } {
  const r = engine('candidate', ['start', '--json'], dir, TIMING);
  expect(r.code, r.stderr).toBe(0);
  const j = r.json as { candidate: string; path: string };
  return { id: j.candidate, path: j.path };
}


const run = (dir: string, id: string): EngineResult => engine('run-experiment', ['--candidate', id, '--json'], dir, TIMING);
const log = (dir: string, id: string, d: string): EngineResult => engine('log-experiment', ['--candidate', id, '-d', d, '--json'], dir, TIMING);
const results = (dir: string) => ledger(dir).filter((l) => l.type === 'result');

function assertLinear(dir: string): string[] {
  const shas = git(dir, 'rev-list', 'autoloop/exp').split('\n');
  for (const sha of shas) expect(git(dir, 'rev-list', '--parents', '-n', '1', sha).split(' ').length).toBeLessThanOrEqual(2);
  return shas;
}

// Many engine calls each, on a shared 2-core machine: a generous hang guard, not a speed assertion.
describe('two candidates in flight', { timeout: 900_000 }, () => {
  it('measure at the same time, then one is kept and one discarded; the branch stays linear and the user keeps their files', async () => {
    const dir = repo();
    const a = start(dir);
    const b = start(dir);
    expect(a.path).not.toBe(b.path);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90\n');
    fs.writeFileSync(path.join(b.path, 'src/value.txt'), '130\n');
    const [ra, rb] = await Promise.all([
      finished(engineAsync('run-experiment', ['--candidate', a.id, '--json'], dir, TIMING)),
      finished(engineAsync('run-experiment', ['--candidate', b.id, '--json'], dir, TIMING)),
    ]);
    expect(ra.code, ra.err).toBe(0);
    expect(rb.code, rb.err).toBe(0);
    expect(JSON.parse(ra.out).primary).toBe(90);
    expect(JSON.parse(rb.out).primary).toBe(130);
    // Distinct run ids, both allocated.
    expect(JSON.parse(ra.out).run_id).not.toBe(JSON.parse(rb.out).run_id);

    const [la, lb] = await Promise.all([
      finished(engineAsync('log-experiment', ['--candidate', a.id, '-d', 'ninety', '--json'], dir, TIMING)),
      finished(engineAsync('log-experiment', ['--candidate', b.id, '-d', 'worse', '--json'], dir, TIMING)),
    ]);
    expect(la.code, la.err).toBe(0);
    expect(lb.code, lb.err).toBe(0);
    expect(JSON.parse(la.out).verdict).toBe('keep');
    expect(JSON.parse(lb.out).verdict).toBe('discard');

    expect(results(dir).map((l) => l.verdict).sort()).toEqual(['discard', 'keep', 'keep']);
    // The initial commit and the one keep (the baseline changed nothing, so it made no commit).
    expect(assertLinear(dir)).toHaveLength(2);
    // The main tree (on the experiment branch) is at the new best, clean in scope, the user's files intact.
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('90\n');
    expect(git(dir, 'status', '--porcelain', '--untracked-files=all').split('\n').sort()).toEqual(['?? notes.txt', '?? src/scratch.txt']);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('my notes\n');
    // Both worktrees are gone, for git too.
    expect(fs.existsSync(a.path) || fs.existsSync(b.path)).toBe(false);
    expect(git(dir, 'worktree', 'list').split('\n')).toHaveLength(1);
    const status = engine('candidate', ['list', '--json'], dir, TIMING);
    expect((status.json as { candidates: unknown[] }).candidates).toEqual([]);
  });

  it('a would-be keep measured on a best that has moved is rebased onto it and measured again before it is kept', () => {
    const dir = repo();
    const a = start(dir);
    const b = start(dir);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90\n');
    fs.writeFileSync(path.join(b.path, 'src/bonus.txt'), '5\n');
    expect(run(dir, a.id).code).toBe(0);
    const first = run(dir, b.id);
    expect(first.json?.primary).toBe(95);
    expect(log(dir, a.id, 'ninety').json?.verdict).toBe('keep');

    // b beat the old best (100) by 5 but was never measured on the new one (90).
    const stale = log(dir, b.id, 'bonus');
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.json?.kind).toBe('rebased');
    expect(results(dir).map((l) => l.run_id)).not.toContain(first.json?.run_id);
    // The worktree now stands on the new best with the change on top.
    expect(git(b.path, 'rev-parse', 'HEAD')).toBe(git(dir, 'rev-parse', 'autoloop/exp'));
    expect(fs.readFileSync(path.join(b.path, 'src/value.txt'), 'utf8')).toBe('90\n');
    expect(fs.readFileSync(path.join(b.path, 'src/bonus.txt'), 'utf8')).toBe('5\n');

    const again = run(dir, b.id);
    expect(again.json?.primary).toBe(85);
    const kept = log(dir, b.id, 'bonus');
    expect(kept.json?.verdict).toBe('keep');
    expect(assertLinear(dir)).toHaveLength(3);
    expect(fs.readFileSync(path.join(dir, 'src/bonus.txt'), 'utf8')).toBe('5\n');
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('90\n');
    expect(ledger(dir).some((l) => l.type === 'event' && l.event === 'rebased')).toBe(true);
  });

  it("a candidate's run whose re-measure of the best fails is not held against the loop's health", () => {
    // Noisy, so each decision re-measures the best in its own tree; that arm (AUTOLOOP_ARM) exits 3 once the file outside the repository says so.
    const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-arm-')), 'arm');
    made.push(path.dirname(flag));
    const bench = `if (process.env.AUTOLOOP_ARM === 'best' && require('node:fs').existsSync(${JSON.stringify(flag)})) process.exit(3);
console.log('METRIC score=' + Number.parseFloat(require('node:fs').readFileSync('src/value.txt', 'utf8')) * (1 + 0.03 * (Math.random() - 0.5)));
`;
    const dir = makeRepo({ 'bench.cjs': bench, 'src/value.txt': '100\n' });
    made.push(dir);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '2', '--parallel', '2'], dir, TIMING);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], dir, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], dir, TIMING).code).toBe(0);
    fs.writeFileSync(flag, '');
    // Two in a row: the default max_crash_streak (2) of the candidates' own failures would start a heal.
    for (const n of [1, 2]) {
      const c = start(dir);
      fs.writeFileSync(path.join(c.path, 'src/value.txt'), `${90 - n}\n`);
      expect(run(dir, c.id).code).toBe(0);
      expect(log(dir, c.id, `change ${n}`).json).toMatchObject({ verdict: 'crash', reason: expect.stringMatching(/^re-measuring the best failed: /) });
      expect(results(dir).at(-1)).toMatchObject({ best_failed: true });
    }
    const status = engine('status', ['--json'], dir, TIMING).json;
    expect(status).toMatchObject({ health: 'improving', health_reason: "re-measuring the best failed (not the change's doing)" });
    expect(ledger(dir).some((l) => l.type === 'event' && l.event === 'heal')).toBe(false);
  });

  it('a stale candidate whose change conflicts with the new best is discarded with that reason, never merged', () => {
    const dir = repo();
    const a = start(dir);
    const b = start(dir);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90\n');
    fs.writeFileSync(path.join(b.path, 'src/value.txt'), '80\n');
    expect(run(dir, a.id).code).toBe(0);
    expect(run(dir, b.id).code).toBe(0);
    expect(log(dir, a.id, 'ninety').json?.verdict).toBe('keep');
    const b2 = log(dir, b.id, 'eighty');
    expect(b2.json?.verdict).toBe('discard');
    expect(String(b2.json?.reason)).toMatch(/conflicts with the new best .*src\/value\.txt/);
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('90\n');
    expect(assertLinear(dir)).toHaveLength(2);
    expect(git(dir, 'status', '--porcelain', '--untracked-files=no')).toBe('');
  });

  it('a candidate opened after a keep starts from the new best; the slots are limited; the serial loop waits', () => {
    const dir = repo();
    const a = start(dir);
    start(dir);
    const third = engine('candidate', ['start'], dir, TIMING);
    expect(third.code).toBe(1);
    expect(third.stderr.trim()).toMatch(/^candidate: 2 candidate\(s\) open \(c1, c2\), parallel is 2/);
    const serial = engine('run-experiment', [], dir, TIMING);
    expect(serial.code).toBe(2);
    expect(serial.stderr).toMatch(/candidate\(s\) open .*--candidate/);
    // A measured candidate cannot be closed without being logged.
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '70\n');
    expect(run(dir, a.id).code).toBe(0);
    expect(engine('candidate', ['close', a.id], dir, TIMING).stderr).toMatch(/measured run .*log it/);
    expect(log(dir, a.id, 'seventy').json?.verdict).toBe('keep');
    expect(engine('candidate', ['close', 'c2'], dir, TIMING).code).toBe(0);
    const c = start(dir);
    expect(git(c.path, 'rev-parse', 'HEAD')).toBe(git(dir, 'rev-parse', 'autoloop/exp'));
    expect(fs.readFileSync(path.join(c.path, 'src/value.txt'), 'utf8')).toBe('70\n');
    // run-experiment from inside the worktree finds its candidate by itself.
    fs.writeFileSync(path.join(c.path, 'src/value.txt'), '60\n');
    const inside = engine('run-experiment', ['--json'], c.path, TIMING);
    expect(inside.code, inside.stderr).toBe(0);
    expect(inside.json?.candidate).toBe(c.id);
  });

  it('a .gitignore in a candidate worktree that hides itself and a file the benchmark reads refuses the run', () => {
    const dir = repo();
    const a = start(dir);
    // Without the check the score would be 100 - 60, from a file no keep could commit.
    fs.writeFileSync(path.join(a.path, 'src/.gitignore'), '.gitignore\nbonus.txt\n');
    fs.writeFileSync(path.join(a.path, 'src/bonus.txt'), '60\n');
    // Only the user's untracked notes.txt shows, linked into the worktree as into the best's tree.
    expect(git(a.path, 'status', '--porcelain')).toBe('?? notes.txt');
    const r = run(dir, a.id);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stderr.trim()).toBe(
      'run-experiment: the ignore rules changed since the last run (src/.gitignore): a file they hide would be measured but never kept; undo the change, or run init-experiment to adopt it',
    );
    expect(results(dir)).toHaveLength(1);
    fs.rmSync(path.join(a.path, 'src/.gitignore'));
    fs.rmSync(path.join(a.path, 'src/bonus.txt'));
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '50\n');
    const ok = run(dir, a.id);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json?.status).toBe('ok');
  });

  it('a candidate left open when a new segment opens is not measured before that segment’s baseline', () => {
    const dir = repo();
    const a = start(dir);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90\n');
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '2', '--parallel', '2'], dir, TIMING);
    expect(init.code, init.stderr).toBe(0);
    // Measured now, the change would be the new segment's baseline: kept with nothing to beat.
    const r = run(dir, a.id);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`run-experiment: no baseline in segment 2 yet: close the open candidates (candidate close ID), then measure the unchanged code in the main tree (run-experiment, log-experiment --description baseline)`);
    expect(results(dir)).toHaveLength(1);
    expect(engine('candidate', ['close', a.id], dir, TIMING).code).toBe(0);
    expect(engine('run-experiment', ['--json'], dir, TIMING).json?.primary).toBe(100);
    expect(engine('log-experiment', ['-d', 'baseline', '--json'], dir, TIMING).json?.verdict).toBe('keep');
  });

  it('chain refuses while the parent has candidates open: a measured one is logged first, no worktree is left behind', () => {
    const dir = repo();
    const a = start(dir);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90\n');
    expect(run(dir, a.id).code).toBe(0);
    const cfg = path.join(dir, '.autoloop/experiments/exp/config.yaml');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/max_runs: 100/, 'max_runs: 1'));
    const refused = engine('chain', ['--name', 'child', '--rationale', 'next'], dir, TIMING);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(`chain: "exp" has 1 candidate(s) open (${a.id}): log them (log-experiment --candidate ID) or close them (candidate close ID) first`);
    expect(fs.existsSync(path.join(dir, '.autoloop/experiments/child'))).toBe(false);
    expect(log(dir, a.id, 'ninety').json?.verdict).toBe('keep');
    const chained = engine('chain', ['--name', 'child', '--rationale', 'next'], dir, TIMING);
    expect(chained.code, chained.stderr).toBe(0);
    expect(git(dir, 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('90\n');
  });

  it('an out-of-scope change in a candidate worktree makes its run invalid', () => {
    const dir = repo();
    const a = start(dir);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '50\n');
    fs.writeFileSync(path.join(a.path, 'README.md'), 'changed\n');
    const r = run(dir, a.id);
    expect(r.json?.status).toBe('invalid');
    expect(String(r.json?.reason)).toMatch(/outside the scope: README\.md/);
    expect(log(dir, a.id, 'sneaky').json?.verdict).toBe('invalid');
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('fixture\n');
  });
});

describe('hooks guard each candidate worktree like the main tree', { timeout: 900_000 }, () => {
  function hook(dir: string, event: string, input: Record<string, unknown>): { code: number | null; stdout: string } {
    const r = spawnSync('/bin/sh', [path.join(ROOT, 'hooks', 'run.sh'), event], {
      input: JSON.stringify({ session_id: 'sess-a', cwd: dir, hook_event_name: event, ...input }),
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: dir },
      encoding: 'utf8',
    });
    return { code: r.status, stdout: r.stdout };
  }
  const edit = (dir: string, file: string) => hook(dir, 'pre-tool-use', { tool_name: 'Edit', tool_input: { file_path: file, old_string: 'a', new_string: 'b' } });
  const bash = (dir: string, command: string) => hook(dir, 'pre-tool-use', { tool_name: 'Bash', tool_input: { command } });
  const reason = (r: { stdout: string }): string => (r.stdout.trim() ? (JSON.parse(r.stdout).hookSpecificOutput.permissionDecisionReason as string) : '');

  it('out of scope and judges are refused inside a worktree; its in-scope files are allowed', () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
    const dir = repo();
    const a = start(dir);
    expect(reason(edit(dir, path.join(a.path, 'README.md')))).toMatch(/README\.md is outside the experiment's scope/);
    expect(reason(edit(dir, path.join(a.path, 'bench.cjs')))).toMatch(/bench\.cjs is protected/);
    expect(reason(edit(dir, path.join(a.path, 'src/value.txt')))).toBe('');
    expect(reason(bash(dir, `echo 1 > ${path.join(a.path, 'bench.cjs')}`))).toMatch(/bench\.cjs is protected/);
    expect(reason(bash(dir, `cd ${a.path} && git commit -am x`))).toMatch(/git/);
    // The same file in the main tree is judged the same way.
    expect(reason(edit(dir, path.join(dir, 'README.md')))).toMatch(/outside the experiment's scope/);
    // After the candidate closes, its path is engine state again.
    expect(engine('candidate', ['close', a.id], dir, TIMING).code).toBe(0);
    expect(reason(edit(dir, path.join(a.path, 'src/value.txt')))).toMatch(/belongs to the engine/);
  });

  it('the Stop hook holds the owner while candidates are in flight after the budget ran out', () => {
    const dir = repo();
    const a = start(dir);
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90\n');
    expect(run(dir, a.id).code).toBe(0);
    // The owner claims the loop by driving the engine (what it runs is what counts), then the budget is used up.
    const list = `node ${path.join(ROOT, 'dist', 'candidate.mjs')} list`;
    expect(hook(dir, 'post-tool-use', { tool_name: 'Bash', tool_input: { command: list }, tool_response: { stdout: '' } }).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/session.json'), 'utf8')).owner_session).toBe('sess-a');
    const cfg = path.join(dir, '.autoloop/experiments/exp/config.yaml');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/max_runs: 100/, 'max_runs: 1'));
    // A control command republishes active.json (resume changes nothing here).
    expect(engine('control', ['resume'], dir, TIMING).code).toBe(0);
    const active = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/active.json'), 'utf8'));
    expect(active.loop).toBe('terminated');
    expect(active.worktrees.map((w: { id: string }) => w.id)).toEqual([a.id]);
    const stop = hook(dir, 'stop', { stop_hook_active: false });
    expect(JSON.parse(stop.stdout).decision).toBe('block');
    expect(JSON.parse(stop.stdout).reason).toMatch(/1 candidate\(s\) still in flight \(c1\)/);
    expect(log(dir, a.id, 'ninety').json?.verdict).toBe('keep');
    const after = hook(dir, 'stop', { stop_hook_active: true });
    expect(after.stdout.includes('still in flight')).toBe(false);
  });
});
