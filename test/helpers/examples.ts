// The bundled examples' stories, shared by examples.test.ts and
// examples-more.test.ts (each runs half of the examples, so the two halves run
// on different workers): every example runs as `npm run demo -- NAME` against
// the real engine and tells its story: the verdicts and the termination are
// read back from the experiment's own ledger (not from the demo's summary),
// the branch holds one commit per keep, and the user's untracked file survived.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { listExamples, loadExample } from '../../scripts/demo/spec.ts';
import { USER_FILE } from '../../scripts/demo/run.ts';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const EXAMPLES = listExamples(ROOT);
const cleanup: string[] = [];
/** Removes what a test file's demos left behind, once the file is done. */
export function cleanUpAfterAll(): void {
  afterAll(() => {
    for (const dir of cleanup.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
}
export const leftBehind = (dir: string): void => void cleanup.push(dir);

export function dist(): string {
  const d = process.env.AUTOLOOP_TEST_DIST;
  if (!d) throw new Error('AUTOLOOP_TEST_DIST is not set: test/global-build.ts did not run');
  return d;
}

export function demo(...args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'demo', '--', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', AUTOLOOP_DEMO_DIST: dist() },
  });
  const repo = /\(repository: (\S+)\)/.exec(r.stdout)?.[1] ?? null;
  if (repo) cleanup.push(repo);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, repo };
}

type LedgerLine = {
  type: string;
  verdict?: string;
  run_id?: string;
  event?: string;
  primary?: number | null;
  reason?: string;
  metrics?: Record<string, number>;
  data?: { by?: string; artifacts?: string };
};

function ledger(repo: string, experiment: string): LedgerLine[] {
  const file = path.join(repo, '.autoloop', 'experiments', experiment, 'ledger.jsonl');
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LedgerLine);
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function engine(repo: string, name: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(dist(), `${name}.mjs`), ...args, '--cwd', repo], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  return r.stdout;
}

const resultLines = (repo: string, experiment: string) => ledger(repo, experiment).filter((l) => l.type === 'result');

// What each example's metric sources read and its artifacts kept, checked from the files themselves.
const LEFT_BEHIND: Record<string, (repo: string, stdout: string) => void> = {
  'ml-train': (repo, stdout) => {
    const exp = 'lower-val-loss';
    // The mutable entry point: no wrapper, train.js is the command and stays editable.
    expect(fs.existsSync(path.join(repo, 'run.js'))).toBe(false);
    expect(stdout).toContain('mutable: train.js (run by the commands) · protected (never edit): eval.js');
    // val_loss came from the printed line through the regex source: nothing printed a METRIC line.
    const runs = resultLines(repo, exp);
    const log = (id: string) => fs.readFileSync(path.join(repo, '.autoloop', 'experiments', exp, 'runs', id, 'output.log'), 'utf8');
    expect(runs.every((l) => l.run_id && !/METRIC/.test(log(l.run_id)))).toBe(true);
    expect(log(runs[1]?.run_id as string)).toMatch(/^val_loss: 0\.19\d\d$/m);
    // After the discard and the crash the engine put the best's (r0002) checkpoint back, by its own ledger.
    const reverted = ledger(repo, exp).filter((l) => l.type === 'event' && l.event === 'reverted');
    expect(reverted.map((l) => [l.run_id, l.data?.artifacts])).toEqual([
      ['r0003', 'r0002'],
      ['r0004', 'r0002'],
    ]);
    // ... and the demo saw it in the files: the run's own checkpoint before the verdict, the best's after.
    expect(stdout.match(/✔ ckpt\/model\.json: this run's own before the verdict, r0002's \(the best\) again after it/g)).toHaveLength(2);
    // The tree ends with the best's checkpoint (16 hidden units), byte for byte the copy the report names.
    const best = JSON.parse(engine(repo, 'report', '--json')) as { best_artifacts: { run_id: string; dir: string; files: string[] } | null };
    expect(best.best_artifacts).toEqual({ run_id: 'r0005', dir: `.autoloop/experiments/${exp}/runs/r0005/artifacts`, files: ['ckpt/model.json'] });
    const inTree = fs.readFileSync(path.join(repo, 'ckpt', 'model.json'));
    expect(inTree.equals(fs.readFileSync(path.join(repo, best.best_artifacts?.dir as string, 'ckpt', 'model.json')))).toBe(true);
    expect((JSON.parse(inTree.toString('utf8')) as { w1: unknown[] }).w1).toHaveLength(16);
    expect(git(repo, 'check-ignore', 'ckpt/model.json')).toBe('ckpt/model.json');
  },
  // lines_pct is the lcov report's own LH/LF (src/ only), the test count is JUnit's.
  coverage: (repo) => {
    const lcov = fs.readFileSync(path.join(repo, 'coverage', 'lcov.info'), 'utf8');
    expect([...lcov.matchAll(/^SF:(.*)$/gm)].map((m) => m[1]).sort()).toEqual(['src/duration.js', 'src/slug.js']);
    const sum = (key: string) => [...lcov.matchAll(new RegExp(`^${key}:(\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    expect(sum('LF')).toBeGreaterThan(0);
    expect(sum('LH')).toBe(sum('LF'));
    const runs = resultLines(repo, 'more-coverage');
    expect(runs.at(-1)?.primary).toBe(100);
    const junit = fs.readFileSync(path.join(repo, 'coverage', 'junit.xml'), 'utf8');
    expect(runs.at(-1)?.metrics?.tests).toBe((junit.match(/<testcase /g) ?? []).length);
    expect(runs.map((l) => l.metrics?.tests)).toEqual([2, 3, 4, 4, 6]);
  },
  // The size and the guardrail are size.json's figures: the last run's are the last keep's.
  'bundle-size': (repo) => {
    const size = JSON.parse(fs.readFileSync(path.join(repo, 'size.json'), 'utf8')) as { gzip: number; exports: number };
    const last = resultLines(repo, 'smaller-bundle').at(-1);
    expect([last?.primary, last?.metrics?.exports]).toEqual([size.gzip, size.exports]);
    expect(resultLines(repo, 'smaller-bundle').find((l) => l.verdict === 'discard')?.reason).toMatch(/^guardrail exports .* allowed \(baseline \d+\)/);
  },
};

/** Each named example runs as `npm run demo -- NAME` and tells its story. */
export function storyTests(names: string[]): void {
  describe.each(names)('npm run demo -- %s', (name) => {
    test('tells its story with the real engine', { timeout: 600_000 }, () => {
      const ex = loadExample(ROOT, name);
      const r = demo(name);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.repo).not.toBeNull();
      const repo = r.repo as string;

      // The story, from the ledger: every step's verdict, then termination right after the last one.
      const lines = ledger(repo, ex.experiment);
      const results = lines.filter((l) => l.type === 'result');
      expect(results.map((l) => l.verdict)).toEqual(ex.steps.map((s) => s.expect));
      const verdicts = new Set(results.map((l) => l.verdict));
      expect(verdicts.has('keep') && verdicts.has('discard')).toBe(true);
      expect(['crash', 'checks_failed', 'timeout'].some((v) => verdicts.has(v))).toBe(true);
      const terminated = lines.filter((l) => l.type === 'event' && l.event === 'terminated');
      expect(terminated.map((l) => [l.run_id, l.data?.by])).toEqual([[results.at(-1)?.run_id, ex.spec.terminated_by]]);

      // The engine's own words reached the screen.
      expect(r.stdout).toMatch(/^ {3}r\d{4} KEEP: /m);
      expect(r.stdout).toMatch(/^ {3}r\d{4} DISCARD: /m);
      expect(r.stdout).toMatch(/^ {3}STOP: terminated: /m);

      // One commit per keep on the experiment's branch (the baseline keeps the initial commit),
      // the tree is at the best, and the user's file is untouched.
      const keeps = results.filter((l) => l.verdict === 'keep').length;
      expect(Number(git(repo, 'rev-list', '--count', `autoloop/${ex.experiment}`))).toBe(keeps);
      expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe('');
      expect(fs.readFileSync(path.join(repo, USER_FILE), 'utf8')).toContain('my own notes');
      LEFT_BEHIND[name]?.(repo, r.stdout);
    });
  });
}
