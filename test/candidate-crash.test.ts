// kill -9 of a candidate's engine call at the points between its steps
// (AUTOLOOP_CRASH_AT, scripts/lib/faults.ts), on real repositories with real
// worktrees: the next engine call that takes the ledger lock finishes or
// forgets what was cut short. No result is counted twice, no slot stays taken
// by a candidate that can never run, and `git worktree list` names no worktree
// of a closed candidate.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engine, engineAsync, fromTemplate, git, ledger, makeRepo, processesIn, ROOT, waitFor, type EngineResult } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

// "hang": up (a file named after the run in GATE_DIR), ignores SIGTERM, never ends.
const BENCH = `
const fs = require('node:fs');
const text = fs.readFileSync('src/value.txt', 'utf8');
if (text.includes('hang')) {
  process.on('SIGTERM', () => {});
  fs.writeFileSync(process.env.GATE_DIR + '/up-' + process.env.AUTOLOOP_RUN, '');
  setInterval(() => {}, 1000);
} else console.log('METRIC score=' + Number.parseFloat(text));
`;

const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) };
/** Where hanging benchmarks say they are up (recorded in the segment's environment at init). */
const GATE = tmpDir('autoloop-gate-');
const templates: string[] = [];
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Two candidate slots, the baseline (100) logged. */
function repo(): string {
  return fromTemplate('candidate-crash', () => {
    const t = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': '100\n', 'README.md': 'fixture\n' });
    templates.push(t);
    // Samples of both candidates run at once (parallel timing), so two can hang together.
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel', '--timeout', '600'], t, { ...TIMING, GATE_DIR: GATE });
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, TIMING).code).toBe(0);
    return t;
  });
}

const cand = (dir: string, crashAt?: string): EngineResult => engine('candidate', ['start', '--json'], dir, { ...TIMING, ...(crashAt ? { AUTOLOOP_CRASH_AT: crashAt } : {}) });
const treeOf = (dir: string, id: string): string => path.join(dir, '.autoloop/experiments/exp/candidates', id, 'tree');
const results = (dir: string): string[] => ledger(dir).filter((l) => l.type === 'result').map((l) => `${String(l.run_id)} ${String(l.verdict)}`);
/** The worktrees git knows of, besides the main tree. */
const worktrees = (dir: string): string[] => git(dir, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9)).filter((p) => p !== dir);

/** A measured candidate c1 whose value is `value`, then its log killed at `point`. */
function loggedUntil(value: string, point: string): string {
  const dir = repo();
  expect(cand(dir).code).toBe(0);
  fs.writeFileSync(path.join(treeOf(dir, 'c1'), 'src/value.txt'), value);
  const run = engine('run-experiment', ['--candidate', 'c1', '--json'], dir, TIMING);
  expect(run.code, run.stderr).toBe(0);
  const killed = engine('log-experiment', ['--candidate', 'c1', '-d', 'the change', '--json'], dir, { ...TIMING, AUTOLOOP_CRASH_AT: point });
  expect(killed.code, killed.stderr).toBe(null); // SIGKILL
  return dir;
}

describe('kill -9 of a candidate call', { timeout: 600_000 }, () => {
  for (const point of ['candidate:saved', 'candidate:worktree']) {
    it(`candidate start killed at ${point}: the next call closes the half-opened candidate and frees its slot`, () => {
      const dir = repo();
      expect(cand(dir, point).code).toBe(null);
      // parallel is 2: both slots open again, and neither is the cut-short c1.
      const a = cand(dir);
      expect(a.code, a.stderr).toBe(0);
      const b = cand(dir);
      expect(b.code, b.stderr).toBe(0);
      expect([a.json?.candidate, b.json?.candidate]).toEqual(['c2', 'c3']);
      expect(fs.existsSync(treeOf(dir, 'c1'))).toBe(false);
      expect(worktrees(dir).sort()).toEqual([treeOf(dir, 'c2'), treeOf(dir, 'c3')]);
      const list = engine('candidate', ['list', '--json'], dir, TIMING).json as { candidates: { id: string }[] };
      expect(list.candidates.map((c) => c.id)).toEqual(['c2', 'c3']);
      expect(engine('run-experiment', ['--candidate', 'c1'], dir, TIMING).stderr).toMatch(/candidate c1 is closed/);
    });
  }

  it('a discard killed after its result line is never logged twice; the candidate is closed and its worktree gone', () => {
    const dir = loggedUntil('130\n', 'candidate:logged');
    const again = engine('log-experiment', ['--candidate', 'c1', '-d', 'the change', '--json'], dir, TIMING);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toMatch(/^log-experiment: candidate c1 is closed/);
    expect(results(dir)).toEqual(['r0001 keep', 'r0002 discard']);
    expect(worktrees(dir)).toEqual([]);
    expect(fs.existsSync(treeOf(dir, 'c1'))).toBe(false);
  });

  for (const [value, verdict] of [['90\n', 'keep'], ['130\n', 'discard']] as const) {
    it(`a ${verdict} killed after its worktree was removed: the next call closes the candidate, its slot is free`, () => {
      const dir = loggedUntil(value, 'candidate:tree-removed');
      expect(cand(dir).code).toBe(0);
      const second = cand(dir);
      expect(second.code, second.stderr).toBe(0);
      expect(results(dir)).toEqual(['r0001 keep', `r0002 ${verdict}`]);
      expect(worktrees(dir).sort()).toEqual([treeOf(dir, 'c2'), treeOf(dir, 'c3')]);
      expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe(verdict === 'keep' ? '90\n' : '100\n');
      expect(git(dir, 'status', '--porcelain', '--untracked-files=no')).toBe('');
      if (verdict === 'keep') expect(ledger(dir).filter((l) => l.type === 'event' && l.event === 'committed' && l.run_id === 'r0002')).toHaveLength(1);
    });
  }

  /** Worktrees whose hanging benchmarks a failed test may have left: killed after each test. */
  const orphans: string[] = [];
  afterEach(() => {
    for (const t of orphans.splice(0)) {
      for (const pid of processesIn(t)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });

  /**
   * Two candidates whose benchmarks hang, both engines killed by SIGKILL mid-run. Without setpriv
   * (the fallback, AUTOLOOP_FAULT_AT=setpriv) and with their guardians gone too the benchmarks outlive their engines until repair.
   */
  async function twoOrphans(): Promise<{ dir: string; trees: string[] }> {
    const { dir, trees } = await twoKilled({ AUTOLOOP_FAULT_AT: 'setpriv,guardian' });
    for (const t of trees) expect(processesIn(t).length).toBeGreaterThan(0);
    return { dir, trees };
  }

  async function twoKilled(env: Record<string, string> = {}): Promise<{ dir: string; trees: string[] }> {
    const dir = repo();
    const trees = ['c1', 'c2'].map((id) => {
      expect(cand(dir).code).toBe(0);
      fs.writeFileSync(path.join(treeOf(dir, id), 'src/value.txt'), 'hang\n');
      return treeOf(dir, id);
    });
    orphans.push(...trees);
    for (const n of fs.readdirSync(GATE)) fs.rmSync(path.join(GATE, n));
    const engines = ['c1', 'c2'].map((id) => engineAsync('run-experiment', ['--candidate', id], dir, { ...TIMING, ...env }));
    await waitFor(() => fs.readdirSync(GATE).length >= 2);
    for (const e of engines) e.kill('SIGKILL');
    await Promise.all(engines.map((e) => new Promise((r) => (e.exitCode !== null || e.signalCode !== null ? r(null) : e.on('close', r)))));
    return { dir, trees };
  }

  it('two candidates’ engines killed mid-run: their benchmarks die with them (setpriv --pdeathsig), nothing to repair', async () => {
    const { dir, trees } = await twoKilled();
    // Only the engines' deaths may end them: a bounded poll, then none may be left.
    for (let i = 0; i < 400 && trees.some((t) => processesIn(t).length); i++) await new Promise((r) => setTimeout(r, 25));
    for (const t of trees) expect(processesIn(t)).toEqual([]);
    for (const id of ['c1', 'c2']) {
      fs.writeFileSync(path.join(treeOf(dir, id), 'src/value.txt'), '90\n');
      const again = engine('run-experiment', ['--candidate', id, '--json'], dir, TIMING);
      expect(again.json, again.stderr).toMatchObject({ status: 'ok', primary: 90 });
    }
  });

  it('two candidates’ engines killed mid-run: control repair stops both benchmarks', async () => {
    const { dir, trees } = await twoOrphans();
    const r = engine('control', ['repair'], dir, TIMING);
    expect(r.code, r.stderr).toBe(0);
    for (const t of trees) expect(processesIn(t)).toEqual([]);
    for (const id of ['c1', 'c2']) {
      fs.writeFileSync(path.join(treeOf(dir, id), 'src/value.txt'), '90\n');
      const again = engine('run-experiment', ['--candidate', id, '--json'], dir, TIMING);
      expect(again.json, again.stderr).toMatchObject({ status: 'ok', primary: 90 });
    }
  });

  it('two candidates’ engines killed mid-run, each run again before repair: repair still stops both', async () => {
    const { dir, trees } = await twoOrphans();
    for (const id of ['c1', 'c2']) {
      const refused = engine('run-experiment', ['--candidate', id], dir, TIMING);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/survived.*repair/);
    }
    const r = engine('control', ['repair'], dir, TIMING);
    expect(r.code, r.stderr).toBe(0);
    for (const t of trees) expect(processesIn(t)).toEqual([]);
  });

  it('a measured candidate whose worktree was removed by hand: log refuses in one line, close frees the slot', () => {
    const dir = repo();
    expect(cand(dir).code).toBe(0);
    fs.writeFileSync(path.join(treeOf(dir, 'c1'), 'src/value.txt'), '90\n');
    expect(engine('run-experiment', ['--candidate', 'c1'], dir, TIMING).code).toBe(0);
    fs.rmSync(treeOf(dir, 'c1'), { recursive: true });
    const logged = engine('log-experiment', ['--candidate', 'c1', '-d', 'x'], dir, TIMING);
    expect(logged.code).toBe(1);
    expect(logged.stderr.trim()).toBe(`log-experiment: the worktree of candidate c1 is gone (${treeOf(dir, 'c1')}): what was measured cannot be checked; candidate close c1 gives it up`);
    const closed = engine('candidate', ['close', 'c1'], dir, TIMING);
    expect(closed.code, closed.stderr).toBe(0);
    expect(worktrees(dir)).toEqual([]);
    expect(results(dir)).toEqual(['r0001 keep']);
    // Nothing is left to log: the serial loop does not ask for r0002.
    expect(engine('status', [], dir, TIMING).stdout).not.toMatch(/r0002 was measured but not logged/);
    expect(cand(dir).code).toBe(0);
    expect(cand(dir).code).toBe(0);
  });
});
