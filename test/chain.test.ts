// chain: follow-ups of terminated experiments, driven end to end through the
// real engine. One repository carries a chain of two follow-ups with a budget
// of two (a → b → c); the third follow-up must be refused. Each refusal is
// checked for its exit code, its one line, and for leaving nothing behind.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { spawnSync } from 'node:child_process';
import { bundle } from './helpers/engine.ts';
import { benchRepo, expDir, git, init, ledger, read, readJson, run, step, write, type Result } from './helpers/loop.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const chainFile = (repo: string) => path.join(repo, '.autoloop', 'chain.json');
const active = (repo: string) => readJson(path.join(repo, '.autoloop', 'active.json'));
const config = (repo: string, slug: string) => YAML.parse(read(repo, `.autoloop/experiments/${slug}/config.yaml`)) as Record<string, unknown>;

function refused(r: Result, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1); // one line, no stack trace
  expect(lines[0]).toMatch(pattern);
}

/** run + log without --json, to read what the model reads. */
function textStep(repo: string, description: string, value: string): string {
  write(repo, 'src/value.txt', value);
  expect(run('run-experiment', [], repo).code).toBe(0);
  const l = run('log-experiment', ['--description', description], repo);
  expect(l.code).toBe(0);
  return l.stdout;
}

describe('a chain of two follow-ups with a budget of two', () => {
  let repo = '';
  let aBest = '';
  beforeAll(() => {
    // The shell benchmark and a shell check: the subject is the chain, not what they run (no Node start per sample or check).
    repo = benchRepo('100', { shell: true });
    const i = init(repo, 'a', ['--goal', 'lower the score', '--max-runs', '3', '--plateau', '7', '--timeout', '30', '--guardrail', 'other:lower:10', '--checks', 'true']);
    expect(i.code).toBe(0);
    step(repo, 'baseline');
    aBest = String(step(repo, 'lower to 90', '90').log.json?.commit);
    const text = textStep(repo, 'raise to 95', '95');
    // Which rule fired, and what the chain budget allows (no chain.json yet: the default 3).
    expect(text).toMatch(/STOP: terminated: max_runs \(3 runs of 3\)/);
    expect(text).toContain('chain budget: 3 follow-ups left');
  });

  it('publishes chain_allowed for the Stop hook once the parent has terminated', () => {
    expect(fs.existsSync(chainFile(repo))).toBe(false);
    expect(active(repo)).toMatchObject({ experiment: 'a', loop: 'terminated', terminated_by: 'max_runs', chain_allowed: true });
  });

  it('refuses an empty or blank rationale and leaves nothing behind', () => {
    for (const rationale of ['', '   \n\t ']) {
      refused(run('chain', ['--from', 'a', '--name', 'b', '--rationale', rationale], repo), /--rationale must not be empty/);
    }
    refused(run('chain', ['--from', 'a', '--name', 'b'], repo), /--rationale must not be empty/);
    expect(fs.existsSync(expDir(repo, 'b'))).toBe(false);
    expect(fs.existsSync(chainFile(repo))).toBe(false);
    expect(git(repo, 'branch', '--list', 'autoloop/b')).toBe('');
  });

  it('refuses an existing child slug', () => {
    refused(run('chain', ['--from', 'a', '--name', 'a', '--rationale', 'why not'], repo), /experiment "a" already exists/);
  });

  it('refuses, from a subdirectory, a --scope written from there (globs are from the top), and starts nothing', () => {
    refused(run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'x', '--scope', 'value.txt'], path.join(repo, 'src')), /--scope "value\.txt" matches no file: scope globs are relative to the repository top \(.*\), not to src; did you mean --scope "src\/value\.txt"\?/);
    expect(fs.existsSync(expDir(repo, 'b'))).toBe(false);
    expect(git(repo, 'branch', '--list', 'autoloop/b')).toBe('');
  });

  it('refuses a --scope outside the repository (/…, ..) with one line, and starts nothing', () => {
    for (const glob of ['../elsewhere/**', '/etc/passwd']) {
      refused(run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'x', '--scope', glob], repo), /--scope ".*" is outside the repository/);
    }
    expect(fs.existsSync(expDir(repo, 'b'))).toBe(false);
    expect(git(repo, 'branch', '--list', 'autoloop/b')).toBe('');
  });

  it('refuses to start when the tree is not at the parent\'s best', () => {
    git(repo, 'checkout', '-q', 'main');
    refused(run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'x'], repo), /HEAD \(main at [0-9a-f]{12}\) is not the best commit of "a"/);
    git(repo, 'checkout', '-q', 'autoloop/a');
    write(repo, 'src/value.txt', '70');
    refused(run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'x'], repo), /in-scope changes in the tree: src\/value\.txt/);
    git(repo, 'checkout', '-q', '--', 'src/value.txt');
    expect(fs.existsSync(expDir(repo, 'b'))).toBe(false);
  });

  it('starts b from a\'s best: inherits the rules, takes the overrides, records the decision read-only', () => {
    const rationale = 'a cut the score from 100 to 90 with one change in src; the lib side was never tried, so b measures it.';
    const r = run('chain', ['--from', 'a', '--name', 'b', '--rationale', rationale, '--goal', 'lower it further', '--scope', 'src/**', '--scope', 'lib/**', '--max-runs', '3', '--target', '60', '--budget', '2', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ parent: 'a', child: 'b', position: 1, trail: ['a', 'b'], budget: 2, remaining: 1, branch: 'autoloop/b', base: aBest });

    // The child starts from the parent's best, on its own branch, and is the active experiment.
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/b');
    expect(git(repo, 'rev-parse', 'autoloop/b')).toBe(aBest);
    expect(git(repo, 'rev-parse', 'autoloop/a')).toBe(aBest);
    expect(active(repo)).toMatchObject({ experiment: 'b', loop: 'active', chain_allowed: false });

    // Inherited unless overridden.
    const a = config(repo, 'a');
    const b = config(repo, 'b');
    expect(b).toMatchObject({ name: 'b', goal: 'lower it further', scope: ['src/**', 'lib/**'], max_runs: 3, target: 60 });
    for (const k of ['metric', 'direction', 'command', 'checks', 'timeout', 'plateau', 'guardrails', 'health', 'repeats', 'min_improvement']) {
      expect(b[k], k).toEqual(a[k]);
    }
    expect(b.plateau).toBe(7);
    expect(b.timeout).toBe(30);

    // The decision: read-only, with the hash of the parent's report as it reads now.
    const file = path.join(expDir(repo, 'b'), 'chain-decision.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o444);
    const d = readJson(file);
    const report = run('report', ['--experiment', 'a'], repo);
    expect(report.code).toBe(0);
    expect(d).toMatchObject({
      parent: 'a',
      child: 'b',
      position: 1,
      chain_budget: 2,
      chain_remaining: 1,
      rationale,
      parent_report_sha256: sha256(report.stdout),
      parent_primary: { name: 'score', direction: 'lower', best: 90, best_commit: aBest, terminated_by: 'max_runs' },
      child_primary: { name: 'score', direction: 'lower' },
      child_goal: 'lower it further',
      child_scope: ['src/**', 'lib/**'],
    });
    expect(Date.parse(String(d.created_at))).not.toBeNaN();
    expect(sha256(read(repo, String(d.parent_report)))).toBe(d.parent_report_sha256);

    // The trail and the budget, in one place; the parent's ledger says it was chained.
    expect(readJson(chainFile(repo))).toMatchObject({ version: 1, chains: [{ budget: 2, trail: ['a', 'b'], links: [{ parent: 'a', child: 'b', position: 1 }] }] });
    const ev = ledger(repo, 'a').filter((l) => l.type === 'event' && l.event === 'chain');
    expect(ev).toHaveLength(1);
    expect(ev[0]?.data).toMatchObject({ child: 'b', position: 1, report_sha256: d.parent_report_sha256 });
  });

  it('refuses a second follow-up of the same parent and a parent that has not terminated', () => {
    refused(run('chain', ['--from', 'a', '--name', 'x', '--rationale', 'branch off'], repo), /"a" already has a follow-up \("b"\)/);
    step(repo, 'baseline');
    refused(run('chain', ['--from', 'b', '--name', 'c', '--rationale', 'too early'], repo), /"b" has not terminated \(continuing: runs 1\/3/);
    expect(fs.existsSync(expDir(repo, 'c'))).toBe(false);
  });

  it('starts c from b with a new primary metric: direction required, the old target dropped', () => {
    step(repo, 'lower to 80', '80');
    const text = textStep(repo, 'raise to 85', '85');
    expect(text).toMatch(/STOP: terminated: max_runs/);
    expect(text).toContain('chain budget: 1 follow-up left');
    const bBest = git(repo, 'rev-parse', 'autoloop/b');
    expect(bBest).not.toBe(aBest);

    refused(run('chain', ['--from', 'b', '--name', 'c', '--rationale', 'other is next', '--metric', 'other'], repo), /--direction is required when --metric changes/);
    refused(run('chain', ['--from', 'b', '--name', 'c', '--rationale', 'r', '--budget', '5'], repo), /--budget is set by the first follow-up/);
    const r = run('chain', ['--from', 'b', '--name', 'c', '--rationale', 'b reached 80; other (50) is now the cost to cut.', '--metric', 'other', '--direction', 'lower', '--scope', 'lib/**', '--max-runs', '2', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ child: 'c', position: 2, trail: ['a', 'b', 'c'], remaining: 0, base: bBest });
    const c = config(repo, 'c');
    expect(c).toMatchObject({ metric: 'other', direction: 'lower', target: null, scope: ['lib/**'], goal: 'lower it further' });
    // The guardrail on `other` became the primary; the parent's primary is guarded at its best instead.
    expect(c.guardrails).toEqual([{ metric: 'score', direction: config(repo, 'b').direction, max_regression_pct: 0 }]);
    const d = readJson(path.join(expDir(repo, 'c'), 'chain-decision.json'));
    expect(d).toMatchObject({ parent: 'b', position: 2, chain_remaining: 0, parent_primary: { name: 'score', best: 80, best_commit: bBest }, child_primary: { name: 'other' } });
    expect(d.parent_report_sha256).toBe(sha256(run('report', ['--experiment', 'b'], repo).stdout));
  });

  it('honours the budget: once c terminates no follow-up is allowed, and the third chain is refused', () => {
    step(repo, 'baseline');
    const text = textStep(repo, 'unchanged', '80');
    // The last follow-up the budget allows ends the chain: every surface says chain_budget, the rule that fired in its message.
    const ended = 'terminated: chain_budget (max_runs: 2 runs of 2; no follow-up left: the chain has used its budget)';
    expect(text).toContain(`STOP: ${ended}`);
    expect(text).toContain('chain budget exhausted (2/2 follow-ups used): stop cleanly');
    expect(active(repo)).toMatchObject({ experiment: 'c', loop: 'terminated', terminated_by: 'chain_budget', chain_allowed: false });
    const j = run('status', ['--json'], repo).json;
    expect(j).toMatchObject({ experiment: 'c', loop: 'terminated', termination: { by: 'chain_budget', message: ended } });
    expect(run('report', [], repo).stdout).toContain('- **Ended:** terminated by chain_budget (max_runs: 2 runs of 2; no follow-up left: the chain has used its budget)');
    expect(run('dashboard', ['--json'], repo).json).toMatchObject({ budget: { terminated: true, by: 'chain_budget' } });
    expect(ledger(repo, 'c').filter((l) => l.event === 'terminated')).toMatchObject([{ data: { by: 'chain_budget', message: ended } }]);
    const line = spawnSync(process.execPath, [bundle('statusline')], { input: JSON.stringify({ cwd: repo }), encoding: 'utf8' }).stdout;
    expect(line).toContain('terminated (chain_budget)');
    // b stopped with a follow-up to come: its own rule, as recorded.
    expect(run('status', ['--json', '--experiment', 'b'], repo).json).toMatchObject({ termination: { by: 'max_runs' } });

    refused(run('chain', ['--from', 'c', '--name', 'd', '--rationale', 'one more'], repo), /chain budget exhausted \(2\/2 follow-ups: a → b → c\)/);
    expect(fs.existsSync(expDir(repo, 'd'))).toBe(false);
    expect((readJson(chainFile(repo)).chains as Array<{ trail: string[] }>)[0]?.trail).toEqual(['a', 'b', 'c']);
  });

  it('finalizes the whole chain from the root\'s starting point with --chain', () => {
    const main = git(repo, 'rev-parse', 'main');
    const keeps = git(repo, 'rev-list', '--reverse', 'main..autoloop/c').split('\n');
    expect(keeps).toHaveLength(2); // a's keep, then b's; c kept nothing
    const r = run('finalize', ['--chain', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ experiment: 'c', experiments: ['a', 'b', 'c'], branch: 'autoloop/c-final', base: main });
    const commits = git(repo, 'rev-list', '--reverse', 'main..autoloop/c-final').split('\n');
    expect(commits).toHaveLength(2);
    expect(git(repo, 'rev-parse', `${commits[0]}^`)).toBe(main);
    expect(git(repo, 'log', '-1', '--format=%B', commits[0] as string)).toMatch(/^lower to 90\n\nscore 100 → 90 \(\+10%\), measured by autoloop run r0002 of experiment a\./);
    expect(git(repo, 'log', '-1', '--format=%B', commits[1] as string)).toMatch(/^lower to 80\n\nscore 90 → 80 \(\+11\.1%\), measured by autoloop run r0002 of experiment b\./);
    expect(git(repo, 'rev-parse', 'autoloop/c-final^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/c^{tree}'));
    // Without --chain only c's own keeps count: there are none, so no branch.
    const own = run('finalize', ['--branch', 'c-own', '--json'], repo);
    expect(own.json).toMatchObject({ branch: null, experiments: ['c'] });
    expect(git(repo, 'branch', '--list', 'c-own')).toBe('');
  });
});

describe('chain.json', () => {
  it('is refused, not guessed at, when it does not validate; the hooks then allow nothing', () => {
    const repo = benchRepo('100', { shell: true });
    init(repo, 'p', ['--max-runs', '1']);
    fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
    fs.writeFileSync(chainFile(repo), JSON.stringify({ version: 1, chains: [{ budget: 2, trail: ['p', 'q'], links: [] }], updated_at: 'x' }));
    const log = step(repo, 'baseline').log.json;
    expect(log).toMatchObject({ should_terminate: true, chain_allowed: false, chain_remaining: 0 });
    expect(active(repo)).toMatchObject({ loop: 'terminated', chain_allowed: false });
    refused(run('chain', ['--from', 'p', '--name', 'q2', '--rationale', 'r'], repo), /^chain: \.autoloop\/chain\.json: chains\.0\.(trail|links)/);
  });
});
