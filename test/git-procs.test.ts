// Git processes per engine call (issue 8, "the cost of an iteration"): each is
// a process start, and the suite runs init-experiment a thousand times. Counted
// by the engine's one git runner (AUTOLOOP_COUNT_IO), on real repositories,
// with the guards those processes answered still holding: HEAD's branch read
// from its file only where git's own read agrees, the user's config read
// without the engine's `-c` settings, the index listed again after a checkout
// of another commit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, git, makeRepo } from './helpers/engine.ts';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-git-procs-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A home of the test's own: a ~/.gitconfig naming a filter (git-lfs) would add the engine's one config read.
const home = path.join(tmp, 'home');
fs.mkdirSync(home, { recursive: true });
fs.writeFileSync(path.join(home, '.gitconfig'), '[user]\n\tname = t\n\temail = t@example.invalid\n');
const HOME_ENV = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
// A system config that names what the engine asks about costs that one read more, whatever the call.
const system = (() => {
  try {
    return /filter|attributesfile|bigfilethreshold|driver|autocrlf|excludesfile|include/i.test(fs.readFileSync('/etc/gitconfig', 'utf8')) ? 1 : 0;
  } catch {
    return 0;
  }
})();

let n = 0;
/** An engine call with its git processes counted. */
function counted(cmd: string, args: string[], repo: string, env: Record<string, string> = {}): { git: number; code: number | null; stderr: string; json: Record<string, unknown> | null } {
  const file = path.join(tmp, `counts-${n++}`);
  const r = engine(cmd, args, repo, { ...HOME_ENV, ...env, AUTOLOOP_COUNT_IO: file });
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const gits = [...text.matchAll(/^git (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  return { git: gits, code: r.code, stderr: r.stderr, json: r.json };
}

const BENCH = { 'bench.sh': 'echo METRIC score=$(cat src/v.txt)\n', 'src/v.txt': '5\n', 'README.md': 'x\n' };
const init = (maxRuns = 'none') => ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', maxRuns, '--plateau', 'none', '--json'];
const configLines = (repo: string) =>
  fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.type === 'config');

describe('git processes per engine call', { timeout: 600_000 }, () => {
  it('init-experiment asks each question once: 6 (was 22); a new segment on its branch 4 (was 18), from another branch 8 (was 21); status 1 (was 2)', () => {
    const repo = makeRepo(BENCH);
    const first = counted('init-experiment', init(), repo);
    expect(first.code, first.stderr).toBe(0);
    // top level, the index listed, status, the branch looked up, checkout -b, the hidden ignore files.
    expect(first.git).toBe(6 + system);
    expect(git(repo, 'symbolic-ref', 'HEAD')).toBe('refs/heads/autoloop/exp');
    const start = git(repo, 'rev-parse', 'HEAD');
    expect(configLines(repo)[0]).toMatchObject({ segment: 1, base: start });

    const status = counted('status', ['--json'], repo);
    expect(status.code, status.stderr).toBe(0);
    expect(status.git).toBe(1 + system);
    expect(engine('run-experiment', ['--description', 'baseline'], repo, HOME_ENV).code).toBe(0);

    const again = counted('init-experiment', init('50'), repo);
    expect(again.code, again.stderr).toBe(0);
    expect(again.git).toBe(4 + system);
    expect(configLines(repo)[1]).toMatchObject({ segment: 2, base: start });

    // From main, with a commit on the experiment's branch that main lacks: the checkout moves the tree,
    // so the tree and the index are read again after it, and the segment starts at the branch's commit.
    git(repo, 'checkout', '-q', 'autoloop/exp');
    fs.writeFileSync(path.join(repo, 'src/v.txt'), '4\n');
    git(repo, 'commit', '-qam', 'by hand');
    const moved = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'checkout', '-q', 'main');
    const back = counted('init-experiment', init('60'), repo);
    expect(back.code, back.stderr).toBe(0);
    expect(back.git).toBe(8 + system);
    expect(git(repo, 'symbolic-ref', 'HEAD')).toBe('refs/heads/autoloop/exp');
    expect(configLines(repo)[2]).toMatchObject({ segment: 3, base: moved });
    expect(fs.readFileSync(path.join(repo, 'src/v.txt'), 'utf8')).toBe('4\n');
  });

  it('a parallel candidate: start 5 (was 8; one lists the untracked files it links), its run 10 (was 14), the log of its keep 11 (was 17), and the keep lands in the main tree', () => {
    const repo = makeRepo(BENCH);
    const timing = { AUTOLOOP_TIMING_DIR: path.join(tmp, 'timing') };
    expect(counted('init-experiment', [...init(), '--parallel', '2', '--repeats', '1'], repo).code).toBe(0);
    expect(engine('run-experiment', [], repo, { ...HOME_ENV, ...timing }).code).toBe(0);
    expect(engine('log-experiment', ['--description', 'baseline'], repo, { ...HOME_ENV, ...timing }).code).toBe(0);
    const start = counted('candidate', ['start', '--json'], repo, timing);
    expect(start.code, start.stderr).toBe(0);
    expect(start.git).toBe(5 + system);
    const c = start.json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'src/v.txt'), '3\n');
    const run = counted('run-experiment', ['--candidate', c.candidate], repo, timing);
    expect(run.code, run.stderr).toBe(0);
    expect(run.git).toBe(10 + system);
    const log = counted('log-experiment', ['--candidate', c.candidate, '--description', 'three', '--json'], repo, timing);
    expect(log.code, log.stderr).toBe(0);
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(log.git).toBe(11 + system);
    expect(fs.readFileSync(path.join(repo, 'src/v.txt'), 'utf8')).toBe('3\n');
    expect(git(repo, 'show', 'autoloop/exp:src/v.txt')).toBe('3');
  });

  it('a branch named "(detached)", which status reports as a detached HEAD: a failed init puts HEAD back on that branch', () => {
    const repo = makeRepo(BENCH);
    git(repo, 'checkout', '-q', '-b', '(detached)');
    const r = counted('init-experiment', init(), repo, { AUTOLOOP_THROW_AT: 'init:before-ledger' });
    expect(r.code).toBe(1);
    expect(git(repo, 'symbolic-ref', 'HEAD')).toBe('refs/heads/(detached)');
    expect(git(repo, 'branch', '--list', 'autoloop/*')).toBe('');
  });

  it('status names the branch a symbolic ref leads to, as git does, not the name HEAD\'s file holds', () => {
    const repo = makeRepo(BENCH);
    expect(counted('init-experiment', init(), repo).code).toBe(0);
    // The experiment's branch made a symbolic ref to another branch: HEAD's file still says autoloop/exp.
    git(repo, 'branch', 'elsewhere');
    git(repo, 'symbolic-ref', 'refs/heads/autoloop/exp', 'refs/heads/elsewhere');
    const s = counted('status', ['--json'], repo);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.stringify(s.json)).toContain('elsewhere');
  });

  it("the user's excludes file as git expands it (~/ is the home), recorded when the segment opens", () => {
    const repo = makeRepo(BENCH);
    fs.appendFileSync(path.join(home, '.gitconfig'), '[core]\n\texcludesFile = ~/my-ignore\n');
    try {
      const r = counted('init-experiment', init(), repo);
      expect(r.code, r.stderr).toBe(0);
      const fp = configLines(repo)[0]!.fingerprints as { excludes: string; ignore: Record<string, string> };
      expect(fp.excludes).toBe(path.join(home, 'my-ignore'));
      expect(Object.keys(fp.ignore)).toContain(path.join(home, 'my-ignore'));
      expect(Object.keys(fp.ignore)).toEqual(expect.arrayContaining(['.gitignore', '.git/info/exclude', '.git/info/attributes']));
    } finally {
      fs.writeFileSync(path.join(home, '.gitconfig'), '[user]\n\tname = t\n\temail = t@example.invalid\n');
    }
  });
});
