// Every bundled example runs as `npm run demo -- NAME` against the real engine
// and tells its story: the verdicts and the termination are read back from the
// experiment's own ledger (not from the demo's summary), the branch holds one
// commit per keep, and the user's untracked file survived.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { listExamples, loadExample } from '../scripts/demo/spec.ts';
import { observe, storyMismatches } from '../scripts/demo/story.ts';
import { runDemo, USER_FILE } from '../scripts/demo/run.ts';
import { UsageError } from '../scripts/lib/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const EXAMPLES = listExamples(ROOT);
const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) fs.rmSync(dir, { recursive: true, force: true });
});

function dist(): string {
  const d = process.env.AUTOLOOP_TEST_DIST;
  if (!d) throw new Error('AUTOLOOP_TEST_DIST is not set: test/global-build.ts did not run');
  return d;
}

function demo(...args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'demo', '--', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', AUTOLOOP_DEMO_DIST: dist() },
  });
  const repo = /\(repository: (\S+)\)/.exec(r.stdout)?.[1] ?? null;
  if (repo) cleanup.push(repo);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, repo };
}

type LedgerLine = { type: string; verdict?: string; run_id?: string; event?: string; data?: { by?: string } };

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

// What each example leaves behind for the metric sources and artifacts that will read it.
const LEFT_BEHIND: Record<string, (repo: string) => void> = {
  // The checkpoint on disk is the last kept run's (the widened model: 16 hidden units).
  'ml-train': (repo) => {
    const model = JSON.parse(fs.readFileSync(path.join(repo, 'ckpt', 'model.json'), 'utf8')) as { w1: unknown[] };
    expect(model.w1).toHaveLength(16);
  },
  // The lcov report the metric came from covers src/ only, every line of it at the end.
  coverage: (repo) => {
    const lcov = fs.readFileSync(path.join(repo, 'coverage', 'lcov.info'), 'utf8');
    expect([...lcov.matchAll(/^SF:(.*)$/gm)].map((m) => m[1]).sort()).toEqual(['src/duration.js', 'src/slug.js']);
    const sum = (key: string) => [...lcov.matchAll(new RegExp(`^${key}:(\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    expect(sum('LF')).toBeGreaterThan(0);
    expect(sum('LH')).toBe(sum('LF'));
  },
};

test('there is an example for each domain family', () => {
  expect(EXAMPLES).toEqual(expect.arrayContaining(['primes', 'ml-train', 'coverage', 'bundle-size']));
});

describe.each(EXAMPLES)('npm run demo -- %s', (name) => {
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
    LEFT_BEHIND[name]?.(repo);
  });
});

describe('the demo fails when the story does not happen', () => {
  test('a wrong expectation makes the demo exit 1 and name the step', { timeout: 600_000 }, () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-examples-')));
    cleanup.push(root);
    const src = path.join(ROOT, 'examples', 'primes');
    const dst = path.join(root, 'examples', 'primes');
    fs.cpSync(src, dst, { recursive: true });
    for (const f of fs.readdirSync(path.join(dst, 'steps'))) if (!/^0[12]-/.test(f)) fs.rmSync(path.join(dst, 'steps', f));
    const yaml = fs.readFileSync(path.join(dst, 'demo.yaml'), 'utf8').replace(/story:[\s\S]*$/, '');
    fs.writeFileSync(
      path.join(dst, 'demo.yaml'),
      `${yaml}story:\n  - { step: baseline, verdict: keep }\n  - { step: 01-sqrt, verdict: keep }\n  - { step: 02-half, verdict: keep }\nterminated_by: target\n`,
    );
    process.env.AUTOLOOP_DEMO_DIST = dist();
    const said: string[] = [];
    const code = runDemo(root, loadExample(root, 'primes'), (l) => said.push(l));
    const repo = /\(repository: (\S+)\)/.exec(said.join('\n'))?.[1];
    if (repo) cleanup.push(repo);
    expect(code).toBe(1);
    expect(said.join('\n')).toContain('02-half: discard (expected keep)');
    expect(said.join('\n')).toContain('the loop did not terminate (expected target)');
  });

  test('storyMismatches: a stop before the last step, and a wrong ending, are both named', () => {
    const expected = [
      { name: 'baseline', expect: 'keep' as const },
      { name: 'a', expect: 'keep' as const },
      { name: 'b', expect: 'crash' as const },
    ];
    expect(storyMismatches(expected, 'target', [observe('baseline', 'r0001 KEEP: baseline'), observe('a', 'r0002 KEEP: x\nSTOP: terminated: max_runs (…)')])).toEqual([
      'a: the loop stopped early (max_runs)',
      'b: never ran (expected crash)',
    ]);
    expect(
      storyMismatches(expected, 'target', [
        observe('baseline', 'r0001 KEEP: baseline'),
        observe('a', 'r0002 KEEP: x'),
        observe('b', 'r0003 CRASH: exit code 1\nSTOP: terminated: plateau (…)'),
      ]),
    ).toEqual(['b: terminated by plateau (expected target)']);
    expect(
      storyMismatches(expected, 'target', [
        observe('baseline', 'r0001 KEEP: baseline'),
        observe('a', 'r0002 KEEP: x'),
        observe('b', 'r0003 CRASH: exit code 1\nSTOP: terminated: target (…)'),
      ]),
    ).toEqual([]);
  });

  test('an example whose story does not match its patches is refused in one line', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-examples-')));
    cleanup.push(root);
    fs.cpSync(path.join(ROOT, 'examples', 'primes'), path.join(root, 'examples', 'primes'), { recursive: true });
    fs.rmSync(path.join(root, 'examples', 'primes', 'steps', '06-odd.patch'));
    expect(() => loadExample(root, 'primes')).toThrow(UsageError);
    expect(() => loadExample(root, 'primes')).toThrow(/story steps .* must be baseline then the patches in steps\/ in order/);
    expect(() => loadExample(root, 'nope')).toThrow(/unknown example "nope"; choose one of: primes/);
  });

  test('an unknown example name exits 2 with one line', () => {
    const r = demo('no-such-example');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`demo: unknown example "no-such-example"; choose one of: ${EXAMPLES.join(', ')}`]);
  });
});
