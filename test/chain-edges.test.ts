// chain, finalize and report at their edges: a chain killed after its child
// opened, finished by whichever engine call comes next; a parent whose branch
// moved or went; kept changes of an earlier segment measured on another
// metric; branch names git refuses only when the ref is written.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, initValue, iterate, ledger, makeRepo, setValue } from './helpers/engine.ts';
import { benchRepo, fromState, git, init, misnameLastIndexedResult, run, step, write } from './helpers/loop.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { fastSource, wholeSource } from '../scripts/lib/report-source.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const expDir = (repo: string, slug = 'exp') => path.join(repo, '.autoloop', 'experiments', slug);

/**
 * valueRepo's benchmark in shell builtins (its metric, the number in
 * src/value.txt, and mem=10; none of its crash/slow/noisy words are used
 * here): no Node start per sample, the subject here being chain, finalize
 * and report.
 */
const shellValueRepo = () =>
  makeRepo({ 'bench.sh': 'read -r v < src/value.txt\necho "METRIC score=$v"\necho "METRIC mem=10"\n', 'src/value.txt': '100', 'src/other.txt': 'other\n', 'README.md': 'fixture\n' });

/** baselineRepo on that benchmark: a fresh copy of "exp" opened with initExtra and its baseline (100) kept, built once per file and initExtra. */
const shellBaselineRepo = (initExtra: string[] = []) =>
  fromState(JSON.stringify(['baseline', initExtra]), () => {
    const repo = shellValueRepo();
    const init = initValue(repo, ['--command', 'sh bench.sh', ...initExtra]);
    expect(init.code, init.stderr).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    return repo;
  });

describe('a chain killed after its child opened', () => {
  it('is completed by the next engine call, not only by chain or repair: the decision, the trail and the budget are there for the child', () => {
    // The parent terminated by its baseline (max_runs 1); the child may run once, and the chain allows no second follow-up.
    const repo = shellBaselineRepo(['--max-runs', '1']);
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on', '--max-runs', '1', '--budget', '1'];
    expect(engine('chain', args, repo, { AUTOLOOP_CRASH_AT: 'chain:after-init' }).code).not.toBe(0);
    // The loop goes on in the child, as the session would after a restart: its baseline.
    const { run, log } = iterate(repo, 'baseline');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/reconciled: completed the follow-up child of exp/);
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(repo, '.autoloop', 'chain.pending.json'))).toBe(false);
    expect(fs.existsSync(path.join(expDir(repo, 'child'), 'chain-decision.json'))).toBe(true);
    expect((JSON.parse(read(repo, '.autoloop/chain.json')) as { chains: { trail: string[] }[] }).chains[0]?.trail).toEqual(['exp', 'child']);
    expect(ledger(repo).filter((l) => l.event === 'chain')).toHaveLength(1);
    // The child terminated: the Stop hook must not push it into a follow-up the budget (1) does not allow.
    expect(JSON.parse(read(repo, '.autoloop/active.json'))).toMatchObject({ experiment: 'child', loop: 'terminated', chain_allowed: false });
  });

  it("puts the parent's best artifacts in the tree when it completes a chain killed before it put them", () => {
    // A benchmark that leaves a checkpoint (ignored by git, kept by the engine as the run's artifact); in shell, no Node start per sample.
    const bench = 'read -r v < src/value.txt\nmkdir -p ckpt\nprintf %s "$v" > ckpt/model.txt\necho "METRIC score=$v"\n';
    const repo = makeRepo({ 'bench.sh': bench, 'src/value.txt': '100', '.gitignore': 'ckpt/\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--artifacts', 'ckpt/**', '--max-runs', '2'], repo).code).toBe(0);
    iterate(repo, 'baseline');
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep', should_terminate: true });
    fs.writeFileSync(path.join(repo, 'ckpt/model.txt'), 'mine');
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on from the checkpoint', '--artifacts-from-parent'];
    expect(engine('chain', args, repo, { AUTOLOOP_CRASH_AT: 'init:after-ledger' }).code).not.toBe(0);
    expect(engine('chain', args, repo).stderr).toMatch(/completed the follow-up child of exp/);
    expect(read(repo, 'ckpt/model.txt')).toBe('90');
    expect(read(repo, '.autoloop/experiments/child/rescued/chain/ckpt/model.txt.autoloop-copy')).toBe('mine');
    expect(ledger(repo, 'child').filter((l) => l.event === 'artifacts')).toMatchObject([{ data: { from: 'exp', run_id: 'r0002', files: ['ckpt/model.txt'] } }]);
  });

  it('leaves its decision read-only when killed right after writing it', () => {
    const repo = shellBaselineRepo(['--max-runs', '1']);
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on'];
    expect(engine('chain', args, repo, { AUTOLOOP_CRASH_AT: 'chain:decision' }).code).not.toBe(0);
    expect(engine('chain', args, repo).stderr).toMatch(/completed the follow-up child of exp/);
    expect(fs.statSync(path.join(expDir(repo, 'child'), 'chain-decision.json')).mode & 0o777).toBe(0o444);
  });
});

describe('a parent whose last log was killed between its keep line and the commit', () => {
  it('finalize names control repair (not the tree), and chain completes the keep and starts from it', () => {
    // The keep that terminates the parent (max_runs 2) is logged, then the log is killed before it commits.
    const repo = shellBaselineRepo(['--max-runs', '2']);
    setValue(repo, '90');
    expect(engine('run-experiment', ['--json'], repo).code).toBe(0);
    expect(engine('log-experiment', ['--description', 'better', '--json'], repo, { AUTOLOOP_CRASH_AT: 'after-ledger' }).code).not.toBe(0);
    const f = engine('finalize', [], repo);
    expect(f.code).toBe(2);
    expect(f.stderr.trim().split('\n')).toHaveLength(1);
    expect(f.stderr).toMatch(/the commit of r0002 in "exp" is not complete: run control repair first/);
    const c = engine('chain', ['--from', 'exp', '--name', 'child', '--rationale', 'go on'], repo);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/reconciled: .*completed the keep of r0002/);
    expect(git(repo, 'show', 'autoloop/child:src/value.txt')).toBe('90');
    expect(git(repo, 'rev-parse', 'autoloop/child')).toBe(git(repo, 'rev-parse', 'autoloop/exp'));
  });
});

describe('a chain from a parent that its wall clock ended between runs', () => {
  it("hashes a report of the parent that reads the same later (the clock's reading is recorded, not live)", () => {
    const repo = shellBaselineRepo();
    // Budgets are read live: a wall clock of 1 s, set after the baseline was logged, ends the experiment with no log to record it.
    const config = path.join(expDir(repo), 'config.yaml');
    fs.writeFileSync(config, read(repo, '.autoloop/experiments/exp/config.yaml').replace(/^max_wall_clock: null$/m, 'max_wall_clock: 1'));
    const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    sleep(1500);
    const r = engine('chain', ['--from', 'exp', '--name', 'child', '--rationale', 'go on', '--max-wall-clock', 'none', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    const sha = (r.json as { parent_report_sha256: string }).parent_report_sha256;
    sleep(2100); // the parent's live clock reading moves on by whole seconds
    const later = engine('report', ['--experiment', 'exp', '--json'], repo).json as { markdown_sha256: string; termination: { by: string } };
    expect(later.termination.by).toBe('wall_clock');
    expect(later.markdown_sha256).toBe(sha);
  });
});

describe("a chain from a parent whose branch moved or went", () => {
  const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on'];
  const refused = (r: { code: number | null; stderr: string }, pattern: RegExp) => {
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  };

  it('names control repair when the branch was moved by hand, and starts from the best once it is back', () => {
    const repo = shellBaselineRepo(['--max-runs', '1']);
    const best = git(repo, 'rev-parse', 'HEAD');
    write(repo, 'README.md', 'edited by hand\n');
    git(repo, 'commit', '-qam', 'by hand');
    refused(engine('chain', args, repo), /branch autoloop\/exp moved outside the loop .*control repair/);
    expect(fs.existsSync(expDir(repo, 'child'))).toBe(false);
    expect(engine('control', ['repair'], repo).code).toBe(0);
    expect(engine('chain', args, repo).code).toBe(0);
    expect(git(repo, 'rev-parse', 'autoloop/child')).toBe(best);
  });

  it('names the best commit to check out when the branch was deleted, and starts from it there', () => {
    const repo = shellBaselineRepo(['--max-runs', '2']);
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep', should_terminate: true });
    const best = git(repo, 'rev-parse', 'HEAD');
    expect(best).not.toBe(git(repo, 'rev-parse', 'main'));
    git(repo, 'checkout', '-q', 'main');
    git(repo, 'branch', '-q', '-D', 'autoloop/exp');
    refused(engine('chain', args, repo), new RegExp(`branch autoloop/exp is gone: .*git checkout --detach ${best.slice(0, 12)}`));
    git(repo, 'checkout', '-q', '--detach', best.slice(0, 12));
    // Killed before the child opened, from there: the next chain rolls it back to the detached best (its fresh branch gone) and starts.
    expect(engine('chain', args, repo, { AUTOLOOP_CRASH_AT: 'init:before-ledger' }).code).not.toBe(0);
    const again = engine('chain', args, repo);
    expect(again.stderr).toMatch(/reconciled: rolled back the interrupted follow-up child of exp/);
    expect(again.code, again.stderr).toBe(0);
    expect(git(repo, 'rev-parse', 'autoloop/child')).toBe(best);
  });
});

describe('a follow-up on a metric the benchmark does not print', () => {
  it('is refused before the budget is spent, for the primary and for a guardrail', () => {
    const repo = shellBaselineRepo(['--max-runs', '1']);
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on'];
    for (const extra of [['--metric', 'latency', '--direction', 'lower'], ['--guardrail', 'latency:lower:5']]) {
      const r = engine('chain', [...args, ...extra], repo);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/metric latency is not printed by the benchmark \(the best run of "exp" printed score, mem\)/);
      expect(fs.existsSync(expDir(repo, 'child'))).toBe(false);
      expect(fs.existsSync(path.join(repo, '.autoloop', 'chain.json'))).toBe(false);
    }
    // mem is printed: a follow-up on it starts.
    expect(engine('chain', [...args, '--metric', 'mem', '--direction', 'lower'], repo).code).toBe(0);
  });
});

describe('a follow-up that turns the direction of the same metric', () => {
  it("drops the parent's target (it was the other way), and refuses a target the parent's best already meets that way", () => {
    // The parent lowers score towards 50 and ends by max_runs at 100.
    const repo = shellBaselineRepo(['--max-runs', '1', '--target', '50']);
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'raise it instead', '--direction', 'higher', '--max-runs', '5'];
    const met = engine('chain', [...args, '--target', '80'], repo);
    expect(met.code).toBe(2);
    expect(met.stderr).toMatch(/the target 80 is already met by "exp"'s best 100: pass a new --target/);
    expect(engine('chain', args, repo).code).toBe(0);
    // Its baseline (the parent's best, 100) does not end it at once as if 50 were a target above.
    const { log } = iterate(repo, 'baseline');
    expect(log.json).toMatchObject({ verdict: 'keep', should_terminate: false });
  });
});

describe('a follow-up whose minimum improvement no lower-is-better change can meet', () => {
  it('warns in one line, given on the command line or inherited from a parent that raised the metric', () => {
    const repo = shellBaselineRepo(['--max-runs', '1', '--direction', 'higher', '--min-improvement', '150%']);
    const args = ['--from', 'exp', '--rationale', 'lower it instead', '--direction', 'lower', '--max-runs', '5'];
    const inherited = engine('chain', [...args, '--name', 'child'], repo);
    expect(inherited.code, inherited.stderr).toBe(0);
    expect(inherited.stdout.split('\n').filter((l) => /never be met/.test(l))).toEqual([
      'warning: min_improvement 150% can never be met by a lower-is-better metric above 0 (it would have to fall to 0 or below): nothing would be kept',
    ]);
  });
  it('says nothing for a minimum that can be met', () => {
    const repo = shellBaselineRepo(['--max-runs', '1']);
    const out = engine('chain', ['--from', 'exp', '--name', 'child', '--rationale', 'more', '--max-runs', '5', '--min-improvement', '50%'], repo);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).not.toMatch(/never be met/);
  });
});

describe('kept changes of an earlier segment that measured another metric', () => {
  // Segment 1 lowers score (100 → 90); init-experiment again opens segment 2 on other, higher is better, in pts (50 → 60).
  // The shell benchmark: the subject is the report and finalize, not the benchmark.
  const repo = (): string => {
    const r = benchRepo('100', { shell: true });
    expect(init(r, 'seg', ['--scope', 'lib/**', '--max-runs', 'none']).code).toBe(0);
    step(r, 'baseline');
    step(r, 'lower the score', '90');
    expect(run('init-experiment', ['--name', 'seg', '--metric', 'other', '--direction', 'higher', '--unit', 'pts'], r).code).toBe(0);
    step(r, 'baseline');
    step(r, 'raise other', '60', 'lib/other.txt');
    return r;
  };

  it('are stated in their own metric, direction and unit in the report (through the run index and from every line) and in finalize\'s messages', () => {
    const r = repo();
    const kept = (md: string) => md.split('## Kept changes (2)')[1]?.split('##')[0]?.trim().split('\n');
    const want = [/^1\. r0002 `[0-9a-f]{12}` score 100 → 90 \(\+10%\): lower the score$/, /^2\. r0004 `[0-9a-f]{12}` other 50 → 60 pts \(\+20%\): raise other$/];
    const fast = run('report', [], r);
    expect(fast.code, fast.stderr).toBe(0);
    const lines = kept(fast.stdout) ?? [];
    want.forEach((w, i) => expect(lines[i]).toMatch(w));
    misnameLastIndexedResult(r, 'seg');
    expect(kept(run('report', [], r).stdout)).toEqual(lines);
    const json = run('report', ['--json'], r).json as { kept: Record<string, unknown>[] };
    expect(json.kept[1]).toMatchObject({ run_id: 'r0002', metric: 'score', direction: 'lower', unit: '' });
    expect(json.kept[3]).not.toHaveProperty('metric');
    for (const squash of [false, true]) {
      const branch = squash ? 'squashed' : 'series';
      const f = run('finalize', ['--branch', branch, ...(squash ? ['--squash'] : [])], r);
      expect(f.code, f.stderr).toBe(0);
      const msg = git(r, 'log', '--format=%B', `main..${branch}`);
      expect(msg).toContain('score 100 → 90 (+10%)');
      expect(msg).toContain('other 50 → 60 pts (+20%)');
      expect(msg).not.toMatch(/other 100 → 90/);
    }
  });
});

/** finalize's ways of building a branch: the series, squashed, and each again by cherry-picks (the fast path failed). */
const FINALIZE_MODES = [
  ['series', [], {}],
  ['squashed', ['--squash'], {}],
  ['picked', [], { AUTOLOOP_FAULT_AT: 'finalize:chain' }],
  ['picked-squashed', ['--squash'], { AUTOLOOP_FAULT_AT: 'finalize:chain' }],
] as const;

/** Each mode's branch ends at the tree of the experiment's best. */
function finalizesToBest(r: string, slug: string, modes: readonly (typeof FINALIZE_MODES)[number][], what: string): void {
  const best = git(r, 'rev-parse', `autoloop/${slug}^{tree}`);
  for (const [branch, extra, env] of modes) {
    const f = engine('finalize', ['--branch', branch, ...extra], r, env);
    expect(f.code, f.stderr).toBe(0);
    expect(git(r, 'rev-parse', `${branch}^{tree}`), `${branch}${what}`).toBe(best);
  }
}

describe('finalize after init-experiment took commits made by hand on the branch as a new segment', () => {
  // Segment 1's states, each built once for the file (fromState): opened, its
  // baseline logged, then a keep (100 → 90) or a discard (110). The shell
  // benchmark: the subject is finalize and the report, not the benchmark.
  const opened = () =>
    fromState('adopt:opened', () => {
      const r = benchRepo('100', { shell: true });
      expect(init(r, 'adopt', ['--max-runs', 'none']).code).toBe(0);
      return r;
    });
  const withBaseline = () =>
    fromState('adopt:baseline', () => {
      const r = opened();
      step(r, 'baseline');
      return r;
    });
  const after = (what: 'kept' | 'discarded') =>
    fromState(`adopt:${what}`, () => {
      const r = withBaseline();
      if (what === 'kept') step(r, 'lower the score', '90');
      else step(r, 'raise the score', '110');
      return r;
    });

  it('carries all of them: each branch it makes (series, squashed, cherry-picked) has the tree of the best', () => {
    const r = after('kept');
    // Two commits by hand on autoloop/adopt, the second changing the first's file; init-experiment adopts them.
    write(r, 'lib/first.txt', 'one\n');
    git(r, 'add', 'lib/first.txt');
    git(r, 'commit', '-qm', 'by hand: first');
    write(r, 'lib/first.txt', 'one, then two\n');
    git(r, 'commit', '-qam', 'by hand: second');
    expect(run('init-experiment', ['--name', 'adopt', '--max-runs', 'none', '--goal', 'smaller still'], r).code).toBe(0);
    step(r, 'baseline');
    step(r, 'lower it again', '85');
    finalizesToBest(r, 'adopt', FINALIZE_MODES.slice(0, 3), '');
    expect(git(r, 'show', 'series:lib/first.txt')).toBe('one, then two');
    expect(git(r, 'log', '-1', '--format=%B', 'series^')).toMatch(/Segment 2 started from commits made outside the loop: [0-9a-f]{12}\.\.[0-9a-f]{12}\./);
  });

  // One test per shape of segment 1: each is a whole experiment and eight finalizes, and the three in
  // one test took 310-475 s on a slow host beside four busy processes, past testTimeout.
  it.each(['none', 'baseline', 'discard'] as const)('carries all of them when segment 1 kept nothing (%s: no run, its baseline alone, or a discard after it)', (first) => {
    const r = first === 'none' ? opened() : first === 'baseline' ? withBaseline() : after('discarded');
    // Two commits by hand on autoloop/adopt, each in a file of its own; init-experiment adopts them.
    write(r, 'lib/first.txt', 'one\n');
    git(r, 'add', 'lib/first.txt');
    git(r, 'commit', '-qm', 'by hand: first');
    write(r, 'lib/second.txt', 'two\n');
    git(r, 'add', 'lib/second.txt');
    git(r, 'commit', '-qm', 'by hand: second');
    expect(run('init-experiment', ['--name', 'adopt', '--max-runs', 'none', '--goal', 'smaller'], r).code).toBe(0);
    step(r, 'baseline');
    step(r, 'lower it', '85');
    finalizesToBest(r, 'adopt', FINALIZE_MODES, `, segment 1: ${first}`);
    expect(git(r, 'show', 'series:lib/first.txt')).toBe('one');
    expect(git(r, 'log', '-1', '--format=%B', 'series^')).toMatch(/Segment 2 started from commits made outside the loop: [0-9a-f]{12}\.\.[0-9a-f]{12}\./);
  });

  it('are listed by the report as the change finalize puts on the branch (through the run index and from every line)', () => {
    const r = after('kept');
    write(r, 'lib/first.txt', 'one\n');
    git(r, 'add', 'lib/first.txt');
    git(r, 'commit', '-qm', 'by hand');
    expect(run('init-experiment', ['--name', 'adopt', '--max-runs', 'none'], r).code).toBe(0);
    step(r, 'baseline');
    step(r, 'lower it again', '85');
    const f = engine('finalize', ['--branch', 'review'], r);
    expect(f.code, f.stderr).toBe(0);
    const commits = Number(git(r, 'rev-list', '--count', 'main..review'));
    expect(commits).toBe(3);
    const check = () => {
      const md = run('report', [], r).stdout;
      expect(md).toContain(`## Kept changes (${commits})`);
      expect(md).toMatch(/^2\. r0003 `[0-9a-f]{12}` score 90 \(baseline\): baseline \(commits made outside the loop, taken by init-experiment\)$/m);
      const json = run('report', ['--json'], r).json as { totals: { changes: number }; kept: { run_id: string; adopted?: boolean }[] };
      expect(json.totals.changes).toBe(commits);
      expect(json.kept.filter((k) => k.adopted).map((k) => k.run_id)).toEqual(['r0003']);
    };
    check();
    // Listed or not (the newest keeps only), the adopted baseline is counted: through the index as from every line.
    const exp = openExperiment(r, 'adopt');
    for (const kept of [1, 2]) {
      const caps = { kept, dead_ends: 0, hypotheses: 0 };
      expect(fastSource(exp, caps, { terminatedBy: null })?.changes_total, `kept ${kept}`).toBe(commits);
      expect(wholeSource(exp, caps).changes_total, `kept ${kept}`).toBe(commits);
    }
    misnameLastIndexedResult(r, 'adopt');
    check();
  });
});

describe('finalize --branch that git refuses only when the ref is written', () => {
  it('is refused with one line and exit 2 before anything is written: a name under an existing branch, one above it, @{-1}', () => {
    const repo = shellBaselineRepo();
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep' });
    const refs = git(repo, 'for-each-ref', '--format=%(refname) %(objectname)');
    for (const [name, why] of [
      ['autoloop/exp/review', /--branch: "autoloop\/exp\/review" cannot be created beside the branch autoloop\/exp/],
      ['autoloop', /--branch: "autoloop" cannot be created beside the branch autoloop\/exp/],
      ['@{-1}', /--branch: "@\{-1\}" is not a valid branch name/],
    ] as const) {
      const r = engine('finalize', ['--branch', name], repo);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(why);
    }
    expect(git(repo, 'for-each-ref', '--format=%(refname) %(objectname)')).toBe(refs);
    expect(fs.existsSync(path.join(expDir(repo), 'report.md'))).toBe(false);
  });
});

describe('one-line fields given to init-experiment, chain and the logs', () => {
  const oneLineRefusal = (r: { code: number | null; stderr: string }, flag: string) => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${flag}: must be one line without control characters`);
  };

  it('refuses a --unit with a line break or a control character (flag or --config), and makes prose (--goal, --description, --hypothesis) one plain line', () => {
    const repo = shellValueRepo();
    const initArgs = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', '2'];
    for (const unit of ['ms\n# not a unit', 'ms\x1b[31m', 'ms\u2028x']) oneLineRefusal(engine('init-experiment', [...initArgs, '--unit', unit], repo), '--unit');
    fs.writeFileSync(path.join(repo, 'autoloop.yaml'), 'unit: "ms\\nx"\n');
    oneLineRefusal(engine('init-experiment', [...initArgs, '--config', 'autoloop.yaml'], repo), '--config: unit');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'exp'))).toBe(false);

    expect(engine('init-experiment', [...initArgs, '--unit', 'ms', '--goal', 'smaller\n# Heading\x1b[31m red'], repo).code).toBe(0);
    expect(read(repo, '.autoloop/experiments/exp/config.yaml')).toMatch(/^goal: "smaller # Heading red"$/m);
    iterate(repo, 'baseline');
    setValue(repo, '90');
    const r = engine('run-experiment', ['--description', 'lower it\n\nto 90\x1b]8;;x\x07', '--hypothesis', 'a smaller\nvalue', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(ledger(repo).filter((l) => l.type === 'result').at(-1)).toMatchObject({ description: 'lower it to 90', hypothesis: 'a smaller value' });
    expect(run('report', [], repo).stdout).toMatch(/^1\. r0002 `[0-9a-f]{12}` score 100 → 90 ms \(\+10%\): lower it to 90$/m);

    const chainArgs = ['--from', 'exp', '--name', 'child', '--rationale', 'go on'];
    oneLineRefusal(engine('chain', [...chainArgs, '--unit', 'ms\nx'], repo), '--unit');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'child'))).toBe(false);
    const c = engine('chain', [...chainArgs, '--goal', 'faster\nstill'], repo);
    expect(c.code, c.stderr).toBe(0);
    expect(read(repo, '.autoloop/experiments/child/config.yaml')).toMatch(/^goal: faster still$/m);
  });
});
