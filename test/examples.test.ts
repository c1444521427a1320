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
import { artifactMismatches, observe, storyMismatches, type Observed } from '../scripts/demo/story.ts';
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
    LEFT_BEHIND[name]?.(repo, r.stdout);
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

  test('a step whose artifacts were not restored makes the demo exit 1 and say why', { timeout: 600_000 }, () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-examples-')));
    cleanup.push(root);
    const dst = path.join(root, 'examples', 'ml-train');
    fs.cpSync(path.join(ROOT, 'examples', 'ml-train'), dst, { recursive: true });
    for (const f of fs.readdirSync(path.join(dst, 'steps'))) if (!f.startsWith('01-')) fs.rmSync(path.join(dst, 'steps', f));
    // A keep never puts the previous best's checkpoint back: expecting it must fail, from the files.
    const yaml = fs.readFileSync(path.join(dst, 'demo.yaml'), 'utf8').replace(/story:[\s\S]*$/, '');
    fs.writeFileSync(
      path.join(dst, 'demo.yaml'),
      `${yaml}story:\n  - { step: baseline, verdict: keep }\n  - { step: 01-lr-up, verdict: keep, artifacts: restored }\nterminated_by: max_runs\n`,
    );
    process.env.AUTOLOOP_DEMO_DIST = dist();
    const said: string[] = [];
    const code = runDemo(root, loadExample(root, 'ml-train'), (l) => said.push(l));
    const text = said.join('\n');
    const repo = /\(repository: (\S+)\)/.exec(text)?.[1];
    if (repo) cleanup.push(repo);
    expect(code).toBe(1);
    expect(text).toContain("✘ ckpt/model.json: this run's own before the verdict, not r0001's after it");
    expect(text).toContain("01-lr-up: the engine did not say it put r0001's artifacts back");
    expect(text).toContain("01-lr-up: after the verdict the tree does not hold r0001's artifacts (ckpt/model.json)");
  });

  test('artifactMismatches: no best, no copy, an untouched tree and a wrong restore are each named', () => {
    const o = (over: Partial<Observed>): Observed => ({ ...observe('s', 'r0003 DISCARD: worse'), ...over });
    expect(artifactMismatches('s', o({}))).toEqual(['s: no kept run to take the artifacts from']);
    expect(artifactMismatches('s', o({ artifacts: { best: 'r0002', files: [], ranOwn: false, differingAfter: [] } }))).toEqual([
      's: the engine kept no artifacts for the best run (r0002)',
    ]);
    expect(artifactMismatches('s', o({ artifacts: { best: 'r0002', files: ['ckpt/a'], ranOwn: false, differingAfter: ['ckpt/a'] } }))).toEqual([
      "s: the run left the best's artifacts as they were (nothing to restore)",
      "s: the engine did not say it put r0002's artifacts back",
      "s: after the verdict the tree does not hold r0002's artifacts (ckpt/a)",
    ]);
    const good = observe('s', "r0003 DISCARD: worse\nartifacts: the best's (r0002) are back in the tree");
    expect(good.artifactsFrom).toBe('r0002');
    expect(artifactMismatches('s', { ...good, artifacts: { best: 'r0002', files: ['ckpt/a'], ranOwn: true, differingAfter: [] } })).toEqual([]);
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
    const yaml = path.join(root, 'examples', 'primes', 'demo.yaml');
    fs.cpSync(path.join(ROOT, 'examples', 'primes', 'steps'), path.join(root, 'examples', 'primes', 'steps'), { recursive: true });
    fs.writeFileSync(yaml, fs.readFileSync(yaml, 'utf8').replace('{ step: 02-half, verdict: discard }', '{ step: 02-half, verdict: discard, artifacts: restored }'));
    expect(() => loadExample(root, 'primes')).toThrow(/a step expects artifacts restored, but init has no artifacts/);
  });

  test('an unknown example name exits 2 with one line', () => {
    const r = demo('no-such-example');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`demo: unknown example "no-such-example"; choose one of: ${EXAMPLES.join(', ')}`]);
  });
});
