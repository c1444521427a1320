// Classes 5, 6 and 8 of issue 11: nothing of the user's is lost (rescued
// copies, all-or-nothing init/chain/finalize under kill -9, atomic writes that
// leave no temp file and never hide a short write), one mutation per
// repository at a time, and no escape sequence reaching a terminal.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { baselineRepo, engine, engineAsync, git, initValue, iterate, ledger, makeRepo, setValue, ROOT, waitFor } from './helpers/engine.ts';
import { appendLineDurable, writeFileAtomic } from '../scripts/lib/fsx.ts';
import { fromState } from './helpers/loop.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const expDir = (repo: string, slug = 'exp') => path.join(repo, '.autoloop', 'experiments', slug);
/**
 * valueRepo's benchmark in shell builtins (the number in src/value.txt, and
 * mem=10): no Node start per sample, the subject here being what the engine
 * does to the user's files. The run that must stay busy keeps valueRepo's
 * "slow" benchmark (baselineRepo).
 */
const SHELL_BENCH = 'read -r v < src/value.txt\necho "METRIC score=$v"\necho "METRIC mem=10"\n';
const SHELL = ['--command', 'sh bench.sh'];
const shellRepo = (extra: Record<string, string> = {}) => makeRepo({ 'bench.sh': SHELL_BENCH, 'src/value.txt': '100', 'src/other.txt': 'other\n', 'README.md': 'fixture\n', ...extra });

/** baselineRepo on that benchmark: a fresh copy of "exp" opened with initExtra and its baseline (100) kept, built once per file and initExtra. */
const shellBaseline = (initExtra: string[] = []): string =>
  fromState(JSON.stringify(['baseline', initExtra]), () => {
    const repo = shellRepo();
    const init = initValue(repo, [...SHELL, ...initExtra]);
    expect(init.code, init.stderr).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    return repo;
  });

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.endsWith('.next') || n.endsWith('.next.json'));

describe("nothing of the user's is lost", () => {
  it('a file the user creates in scope during the loop is moved to rescued/ when a revert removes it', () => {
    const repo = shellBaseline();
    fs.writeFileSync(path.join(repo, 'src', 'notes-of-the-user.md'), 'my notes\n');
    setValue(repo, '120');
    expect(iterate(repo, 'worse').log.json).toMatchObject({ verdict: 'discard' });
    expect(fs.existsSync(path.join(repo, 'src', 'notes-of-the-user.md'))).toBe(false);
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0002/src/notes-of-the-user.md.autoloop-copy')).toBe('my notes\n');
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0002/src/value.txt.autoloop-copy')).toBe('120');
  });

  it('a refused init-experiment leaves the previous config and segment exactly as they were', () => {
    const repo = shellBaseline();
    const config = read(repo, '.autoloop/experiments/exp/config.yaml');
    const lines = ledger(repo).length;
    fs.appendFileSync(path.join(repo, 'src', 'other.txt'), 'tracked edit\n');
    const r = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/uncommitted changes to tracked files in scope/);
    expect(read(repo, '.autoloop/experiments/exp/config.yaml')).toBe(config);
    expect(ledger(repo)).toHaveLength(lines);
    expect(leftovers(expDir(repo))).toEqual([]);
  });

  for (const point of ['init:after-judges', 'init:before-ledger', 'init:after-ledger']) {
    it(`a kill -9 at ${point} of a new segment is rolled back or completed by the next call`, () => {
      const repo = shellBaseline();
      const config = read(repo, '.autoloop/experiments/exp/config.yaml');
      const killed = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo, { AUTOLOOP_CRASH_AT: point });
      expect(killed.code).not.toBe(0);
      // The tree unchanged: a re-measure of the best (segment 1) or the new segment's baseline.
      const next = engine('run-experiment', ['--json'], repo);
      expect(next.json).toMatchObject({ status: 'ok' });
      const completed = point === 'init:after-ledger';
      expect(next.stderr).toMatch(completed ? /completed the opening of segment 2/ : /rolled back an interrupted init-experiment/);
      const segments = ledger(repo).filter((l) => l.type === 'config').length;
      expect(segments).toBe(completed ? 2 : 1);
      if (completed) expect(read(repo, '.autoloop/experiments/exp/config.yaml')).toMatch(/timeout: 99/);
      else expect(read(repo, '.autoloop/experiments/exp/config.yaml')).toBe(config);
      expect(leftovers(expDir(repo))).toEqual([]);
      expect(leftovers(path.join(expDir(repo), 'judges'))).toEqual([]);
      expect(fs.readdirSync(path.join(expDir(repo), 'judges')).filter((n) => n.startsWith('files-'))).toHaveLength(1);
    });
  }

  for (const point of ['init:after-judges', 'init:after-ledger']) {
    it(`a kill -9 at ${point} of a repository's first init: the next call names it, and init again finishes it`, () => {
      const repo = shellRepo();
      expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo, { AUTOLOOP_CRASH_AT: point }).code).toBe(null);
      for (const cmd of ['status', 'run-experiment']) {
        const next = engine(cmd, [], repo);
        expect(next.code).not.toBe(0);
        expect(next.stderr).toMatch(/init-experiment of "exp" was cut off before it finished: run it again/);
      }
      expect(initValue(repo, SHELL).code).toBe(0);
      expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
      expect(leftovers(expDir(repo))).toEqual([]);
    });
  }

  for (const point of ['init:after-judges', 'init:before-ledger', 'init:after-ledger']) {
    it(`snapshot mode: a kill -9 at ${point} of a new segment leaves the old best (or the new one) whole, never a wedge`, () => {
      const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '10' }, { git: false });
      const args = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'];
      expect(engine('init-experiment', args, repo).code).toBe(0);
      engine('run-experiment', [], repo);
      engine('log-experiment', ['--description', 'baseline'], repo);
      // An edit nobody measured: a new segment would start from it, the old one must not.
      fs.writeFileSync(path.join(repo, 'src/v'), '999');
      expect(engine('init-experiment', args, repo, { AUTOLOOP_CRASH_AT: point }).code).not.toBe(0);
      const next = engine('run-experiment', ['--json'], repo);
      const completed = point === 'init:after-ledger';
      expect(next.stderr).toMatch(completed ? /completed the opening of segment 2/ : /rolled back an interrupted init-experiment/);
      // Rolled back: the edit is measured against the old best; completed: it is the new segment's baseline.
      expect(next.json).toMatchObject(completed ? { status: 'ok', primary: 999, best: null, files: [] } : { status: 'ok', primary: 999, best: 10, files: ['src/v'] });
      expect(leftovers(expDir(repo))).toEqual([]);
    });
  }

  /** A copy of an experiment that its baseline terminated (max_runs 1): shellBaseline builds it once per file. */
  const terminated = (): string => shellBaseline(['--max-runs', '1']);
  const chainArgs = ['--from', 'exp', '--name', 'child', '--rationale', 'go on', '--max-runs', '5'];

  for (const point of ['chain:after-init', 'init:after-ledger']) it(`a kill -9 of chain after the child opened (${point}) is completed by the next chain call, the child the loop's experiment`, () => {
    const repo = terminated();
    const killed = engine('chain', chainArgs, repo, { AUTOLOOP_CRASH_AT: point });
    expect(killed.code).not.toBe(0);
    const again = engine('chain', chainArgs, repo);
    expect(again.stderr).toMatch(/completed the follow-up child of exp/);
    // Asked again, the chain is done: not "already exists", and the loop goes on in the child.
    expect(again.code).toBe(0);
    expect(JSON.parse(read(repo, '.autoloop/active.json')).experiment).toBe('child');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', best: null });
    expect(leftovers(expDir(repo, 'child'))).toEqual([]);
    expect(fs.existsSync(path.join(expDir(repo, 'child'), 'chain-decision.json'))).toBe(true);
    const chains = JSON.parse(read(repo, '.autoloop/chain.json')) as { chains: { trail: string[] }[] };
    expect(chains.chains[0]?.trail).toEqual(['exp', 'child']);
    expect(ledger(repo).filter((l) => l.event === 'chain')).toHaveLength(1);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'chain.pending.json'))).toBe(false);
  });

  it('a kill -9 of chain before the child opened is rolled back by the next call', () => {
    const repo = terminated();
    const killed = engine('chain', chainArgs, repo, { AUTOLOOP_CRASH_AT: 'init:before-ledger' });
    expect(killed.code).not.toBe(0);
    expect(engine('control', ['repair', '--experiment', 'exp'], repo).stdout).toMatch(/rolled back the interrupted follow-up child/);
    expect(fs.existsSync(expDir(repo, 'child'))).toBe(false);
    expect(git(repo, 'branch', '--list', 'autoloop/child')).toBe('');
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/exp');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'chain.json'))).toBe(false);
    expect(engine('chain', chainArgs, repo).code).toBe(0);
  });

  it('a kill -9 of finalize leaves no registered worktree after the next call', () => {
    const repo = shellBaseline();
    setValue(repo, '90');
    iterate(repo, 'better');
    // The cherry-picks' worktree (a chain of keeps is replayed without one: AUTOLOOP_FAULT_AT turns that off).
    const killed = engine('finalize', [], repo, { AUTOLOOP_CRASH_AT: 'finalize:worktree', AUTOLOOP_FAULT_AT: 'finalize:chain' });
    expect(killed.code).not.toBe(0);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(2);
    expect(engine('finalize', [], repo).code).toBe(0);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(git(repo, 'show', 'autoloop/exp-final:src/value.txt')).toBe('90');
  });

  it('a kill -9 of finalize while it writes the replayed commits creates no branch, and the next call does', () => {
    const repo = shellBaseline();
    setValue(repo, '90');
    iterate(repo, 'better');
    setValue(repo, '80');
    iterate(repo, 'better still');
    const killed = engine('finalize', [], repo, { AUTOLOOP_CRASH_AT: 'finalize:chain' });
    expect(killed.code).toBeNull();
    expect(git(repo, 'branch', '--list', 'autoloop/exp-final')).toBe('');
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(engine('finalize', [], repo).code).toBe(0);
    expect(git(repo, 'show', 'autoloop/exp-final:src/value.txt')).toBe('80');
    expect(git(repo, 'rev-list', '--count', 'main..autoloop/exp-final')).toBe('2');
  });

  it("a finalize killed inside git worktree add (git's own 'initializing' lock left) leaves no worktree after the next call", () => {
    const repo = shellBaseline();
    setValue(repo, '90');
    iterate(repo, 'better');
    // What git leaves when the engine dies during `worktree add`: a registered,
    // locked worktree whose owner (the pid in its folder's name) is gone.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `autoloop-final-${dead}-`));
    git(repo, 'worktree', 'add', '-q', '--detach', '--lock', '--reason', 'initializing', path.join(dir, 'tree'), 'HEAD');
    fs.rmSync(dir, { recursive: true, force: true });
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(2);
    expect(engine('finalize', [], repo).code).toBe(0);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(git(repo, 'show', 'autoloop/exp-final:src/value.txt')).toBe('90');
  });

  it('a failed atomic write leaves no temp file and the old content', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-fsx-'));
    fs.mkdirSync(path.join(dir, 'target')); // rename onto a directory fails
    expect(() => writeFileAtomic(path.join(dir, 'target'), 'x')).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['target']);
  });

  it('a short write (a file size limit) is detected: no temp file, old content kept, a ledger line cut back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-fsx-'));
    fs.writeFileSync(path.join(dir, 'state.json'), 'old');
    fs.writeFileSync(path.join(dir, 'ledger.jsonl'), '{"a":1}\n');
    const script = `import { writeFileAtomic, appendLineDurable } from ${JSON.stringify(path.join(ROOT, 'scripts/lib/fsx.ts'))};
const out = [];
try { writeFileAtomic(${JSON.stringify(path.join(dir, 'state.json'))}, 'y'.repeat(4 << 20)); out.push('wrote'); } catch (e) { out.push('refused: ' + e.message); }
try { appendLineDurable(${JSON.stringify(path.join(dir, 'ledger.jsonl'))}, JSON.stringify({ b: 'z'.repeat(4 << 20) })); out.push('appended'); } catch (e) { out.push('refused: ' + e.message); }
console.log(out.join('\\n'));`;
    fs.writeFileSync(path.join(dir, 'w.mts'), script);
    // SIGXFSZ ignored: the kernel then returns a short write / EFBIG instead of killing the process.
    const r = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 2048; exec "$0" --import tsx "$1"`, process.execPath, path.join(dir, 'w.mts')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/^refused: /), expect.stringMatching(/^refused: /)]);
    expect(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')).toBe('old');
    expect(fs.readFileSync(path.join(dir, 'ledger.jsonl'), 'utf8')).toBe('{"a":1}\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['ledger.jsonl', 'state.json', 'w.mts']);
    // The same append within the limit works.
    appendLineDurable(path.join(dir, 'ledger.jsonl'), '{"c":2}');
    expect(fs.readFileSync(path.join(dir, 'ledger.jsonl'), 'utf8')).toBe('{"a":1}\n{"c":2}\n');
  });
});

describe('a scope of files git does not track', () => {
  it('is refused at init (the loop would never see nor commit its changes), and warned of beside a tracked one', () => {
    const repo = makeRepo({ 'bench.cjs': "console.log('METRIC score=' + require('fs').readFileSync('new/v.txt', 'utf8'))\n", 'src/a.txt': 'a\n' });
    fs.mkdirSync(path.join(repo, 'new'));
    fs.writeFileSync(path.join(repo, 'new/v.txt'), '100');
    const args = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'new/**'];
    const r = engine('init-experiment', args, repo);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('init-experiment: --scope "new/**" matches only files git does not track: they are yours, so the loop never commits them nor sees its changes to them; commit them first (git add, git commit), then init-experiment');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'exp'))).toBe(false);
    const both = engine('init-experiment', [...args, '--scope', 'src/**', '--json'], repo);
    expect(both.code).toBe(0);
    expect((both.json as { warnings: string[] }).warnings).toEqual(['--scope "new/**" matches only files git does not track: they are yours, so the loop never commits them nor sees its changes to them (commit them to let the loop work on them)']);
  });
});

describe('a refused first init', () => {
  it('leaves no .autoloop/ behind (a linked worktree whose experiment branch is checked out in the main one)', () => {
    const main = makeRepo({ 'bench.cjs': "console.log('METRIC score=1')\n", 'src/a.txt': 'a\n' });
    const args = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'];
    expect(engine('init-experiment', args, main).code).toBe(0);
    const linked = `${main}-linked`;
    git(main, 'worktree', 'add', '-q', linked, '-b', 'feature');
    try {
      const r = engine('init-experiment', args, linked);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(/^init-experiment: cannot check out autoloop\/exp: .*already checked out/);
      expect(fs.existsSync(path.join(linked, '.autoloop'))).toBe(false);
      expect(git(linked, 'branch', '--show-current')).toBe('feature');
    } finally {
      fs.rmSync(linked, { recursive: true, force: true });
    }
  });
});

describe('line ends git converts on checkout', () => {
  it('are named at init: a keep commits the work tree\'s CRLF bytes where git stores LF', () => {
    const repo = makeRepo({ 'bench.cjs': "console.log('METRIC score=1')\n", 'src/a.txt': 'a\nb\n', 'src/b.bin': 'x' });
    fs.writeFileSync(path.join(repo, '.gitattributes'), '*.txt text eol=crlf\n');
    git(repo, 'add', '.gitattributes');
    git(repo, 'commit', '-qm', 'attributes');
    fs.rmSync(path.join(repo, 'src/a.txt'));
    git(repo, 'checkout', '--', 'src/a.txt'); // checked out again, now with CRLF
    expect(fs.readFileSync(path.join(repo, 'src/a.txt'), 'utf8')).toBe('a\r\nb\r\n');
    const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--json'], repo);
    expect(r.code).toBe(0);
    expect((r.json as { warnings: string[] }).warnings).toEqual([
      "src/a.txt: git stores LF but checks out CRLF here (core.autocrlf or a .gitattributes eol rule); a keep commits the work tree's bytes, so every line of a kept file changes (line ends) in its commit",
    ]);
  });
});

describe('line ends the user\'s core.autocrlf converts', () => {
  it('are named at init too: the engine\'s own git commands carry core.autocrlf=false, so asking git with them answered "false"', () => {
    const repo = makeRepo({ 'bench.cjs': "console.log('METRIC score=1')\n", 'src/a.txt': 'a\nb\n' });
    git(repo, 'config', 'core.autocrlf', 'true');
    const file = path.join(repo, 'src/a.txt');
    fs.rmSync(file);
    git(repo, 'checkout', '--', 'src/a.txt'); // checked out again, now with CRLF
    expect(fs.readFileSync(file, 'utf8')).toBe('a\r\nb\r\n');
    // git's stat data made current (the file older than the index), as a checkout made a while ago leaves it.
    const past = new Date(Date.now() - 120_000);
    fs.utimesSync(file, past, past);
    git(repo, 'update-index', '--refresh');
    const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect((r.json as { warnings: string[] }).warnings).toEqual([
      "src/a.txt: git stores LF but checks out CRLF here (core.autocrlf or a .gitattributes eol rule); a keep commits the work tree's bytes, so every line of a kept file changes (line ends) in its commit",
    ]);
  });
});

describe('line ends alone in the way of init', () => {
  it('a refusal for in-scope changes that are only core.autocrlf\'s CRLF says so, with the command that writes the stored bytes', () => {
    const repo = makeRepo({ 'bench.cjs': "console.log('METRIC score=1')\n", 'src/a.txt': 'a\nb\n' });
    git(repo, 'config', 'core.autocrlf', 'true');
    const file = path.join(repo, 'src/a.txt');
    fs.rmSync(file);
    git(repo, 'checkout', '--', 'src/a.txt');
    // Touched (an editor's save, a copy): git's stat data no longer vouches for it, so git compares the bytes.
    const past = new Date(Date.now() - 120_000);
    fs.utimesSync(file, past, past);
    expect(git(repo, '--no-optional-locks', 'status', '--porcelain')).toBe(''); // the user's git sees nothing to commit or stash (and leaves the index as it is)
    const args = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'];
    const r = engine('init-experiment', args, repo);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/uncommitted changes to tracked files in scope: src\/a\.txt; .*src\/a\.txt: only line ends differ .*: git -c core\.autocrlf=false checkout -- src\/a\.txt writes them as git stores them/);
    expect(fs.existsSync(path.join(repo, '.autoloop'))).toBe(false);
    // The way out it names works, and the user's git still shows nothing.
    git(repo, '-c', 'core.autocrlf=false', 'checkout', '--', 'src/a.txt');
    expect(engine('init-experiment', args, repo).code).toBe(0);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });
});

describe('one engine mutation per repository at a time', () => {
  it('initialising a second experiment during a run of the first is refused; the branch stays', async () => {
    // The run's own timeout is far beyond any load: the test ends the run itself
    // once the second call has been refused, so the race never depends on speed.
    const repo = baselineRepo('100', ['--timeout', '600', '--grace', '0.2']);
    setValue(repo, '1 slow');
    const first = engineAsync('run-experiment', [], repo);
    const exited = new Promise((r) => first.on('exit', r));
    await waitFor(() => fs.existsSync(path.join(repo, '.pids')));
    const second = engine('init-experiment', ['--name', 'other', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo);
    expect(first.exitCode).toBe(null);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another autoloop command .* is running in this repository/);
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/exp');
    first.kill('SIGTERM');
    await exited;
    expect(fs.existsSync(expDir(repo, 'other'))).toBe(false);
  });
});

describe('escape sequences never reach a terminal raw', () => {
  it('status, log, explain, report and commit messages carry none', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '10' });
    const goal = 'goal \x1b]0;pwned\x07 with \x1b[2J clear and \u009b31m C1';
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--goal', goal], repo).code).toBe(0);
    engine('run-experiment', [], repo);
    const outputs = [engine('log-experiment', ['--description', 'base \x1b[31mred\x1b[0m'], repo).stdout];
    fs.writeFileSync(path.join(repo, 'src/v'), '9');
    engine('run-experiment', [], repo);
    outputs.push(engine('log-experiment', ['--description', 'better \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \u202eevil'], repo).stdout);
    outputs.push(engine('status', [], repo).stdout, engine('status', ['--json'], repo).stdout);
    outputs.push(engine('control', ['explain'], repo).stdout, engine('report', [], repo).stdout, engine('report', ['--json'], repo).stdout);
    outputs.push(git(repo, 'log', '--format=%B', 'autoloop/exp'));
    for (const o of outputs) {
      expect(o).not.toMatch(/[\x1b\u009b\u202e]/);
    }
    expect(outputs.join('')).toContain('goal');
    expect(git(repo, 'log', '-1', '--format=%s')).toBe('autoloop: better link evil');
  });
});

describe("the engine's copies stay out of the project's tools", () => {
  // `node --test` walks .autoloop/ too: a discarded run's new test file, once
  // rescued, must not be found and run by the next run's checks.
  it('a new test file of a discarded run, rescued, is not run by the next checks (node --test)', () => {
    const repo = shellRepo({ 'test/value.test.cjs': "require('node:test')('value', () => {});\n" });
    expect(initValue(repo, [...SHELL, '--scope', 'test/**', '--checks', 'node --test']).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    // A candidate adds a test that needs a module next to it, and is discarded (nothing got better).
    fs.writeFileSync(path.join(repo, 'test', 'extra.test.cjs'), "require('./helper.cjs');\n");
    fs.writeFileSync(path.join(repo, 'test', 'helper.cjs'), 'module.exports = 1;\n');
    expect(iterate(repo, 'more tests').log.json).toMatchObject({ verdict: 'discard' });
    expect(fs.readdirSync(path.join(expDir(repo), 'rescued', 'r0002', 'test')).sort()).toEqual(['extra.test.cjs.autoloop-copy', 'helper.cjs.autoloop-copy']);
    // The next run's checks see only the project's own test.
    const next = iterate(repo, 'same again');
    expect(next.run.json, next.run.stderr).toMatchObject({ status: 'ok' });
    const tests = spawnSync('node', ['--test'], { cwd: repo, encoding: 'utf8' });
    expect(tests.status, tests.stdout).toBe(0);
    expect(tests.stdout).toMatch(/# tests 1\b/);
  });
});
