// Journeys of a demanding user, round 5: what an overnight loop meets on a
// real machine (no git identity, an empty repository, a benchmark that reads
// stdin or daemonises, odd METRIC lines, files the benchmark writes, LFS
// filters without git-lfs, core.fileMode=false, a user who amends the branch,
// a decimal-comma locale, a guardrail). Through the bundled engine on real
// git repositories.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundle, engine, finished, git, ledger, makeRepo, processesIn, type EngineResult } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const HANG_GUARD = { timeout: 600_000 };
const BENCH = 'echo "METRIC n=$(cat v.txt)"\n';
const init = (repo: string, extra: string[] = [], env: Record<string, string> = {}): EngineResult =>
  engine('init-experiment', ['--name', 'p', '--metric', 'n', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'v.txt', '--repeats', '1', ...extra], repo, env);
const run = (repo: string, description: string, env: Record<string, string> = {}): EngineResult => engine('run-experiment', ['--description', description, '--json'], repo, env);
/** Live processes whose command line names `text` (the daemon below: its output file's path). */
const naming = (text: string): string[] =>
  fs.readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && Number(pid) !== process.pid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false; // gone
    }
  });
const results = (repo: string) => ledger(repo, 'p').filter((l) => l.type === 'result');

describe('round 5 journeys', () => {
  it('commits under a clear identity where git has none (no user.name, no ~/.gitconfig), never failing mid-loop', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': BENCH });
    // A fresh machine: an empty HOME, no identity in the environment.
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmpDir('autoloop-home-'), XDG_CONFIG_HOME: '', EMAIL: '' };
    for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL']) delete env[k];
    const call = (name: string, args: string[]) => spawnSync(process.execPath, [bundle(name), ...args, '--cwd', repo], { encoding: 'utf8', env });
    expect(spawnSync('git', ['var', 'GIT_AUTHOR_IDENT'], { cwd: repo, env }).status).not.toBe(0);
    const i = call('init-experiment', ['--name', 'p', '--metric', 'n', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'v.txt', '--repeats', '1']);
    expect(i.status, i.stderr).toBe(0);
    expect(JSON.parse(call('run-experiment', ['--description', 'baseline', '--json']).stdout)).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    const keep = call('run-experiment', ['--description', 'four', '--json']);
    expect(JSON.parse(keep.stdout), keep.stderr).toMatchObject({ verdict: 'keep', primary: 4 });
    expect(git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', 'autoloop/p')).toBe('autoloop <autoloop@localhost>|autoloop <autoloop@localhost>|autoloop: four');
    expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe('');
  });

  it('in an empty repository (no commit yet) says in one line to commit first, and leaves nothing behind', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': BENCH }, { git: false });
    git(repo, 'init', '-q', '-b', 'main');
    const untracked = init(repo);
    expect(untracked.code).toBe(2);
    expect(untracked.stderr).toMatch(/^init-experiment: [^\n]*commit them first \(git add, git commit\), then init-experiment\n$/);
    git(repo, 'add', '-A');
    const staged = init(repo);
    expect(staged.code).toBe(2);
    expect(staged.stderr).toBe('init-experiment: the repository has no commit yet; commit once before starting an experiment\n');
    expect(fs.existsSync(path.join(repo, '.autoloop/experiments'))).toBe(false);
    expect(git(repo, 'status', '--porcelain')).toBe('A  bench.sh\nA  v.txt');
    // As told: one commit, and the loop starts.
    git(repo, 'commit', '-qm', 'first');
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep', primary: 5 });
  });

  it('gives a benchmark that reads stdin an end of file, not the session\'s open pipe, and no terminal', HANG_GUARD, async () => {
    const repo = makeRepo({
      'v.txt': '5\n',
      'bench.sh': 'if read x; then echo "stdin: $x"; else echo "stdin: eof"; fi\n[ -t 0 ] && echo "tty: stdin"\n[ -t 1 ] && echo "tty: stdout"\necho "METRIC n=$(cat v.txt)"\n',
    });
    expect(init(repo).code).toBe(0);
    // The engine's own stdin: a pipe its caller holds open all night and never writes (a headless session's).
    const child = spawn(process.execPath, [bundle('run-experiment'), '--description', 'baseline', '--json', '--cwd', repo], { stdio: ['pipe', 'pipe', 'pipe'] });
    const done = await finished(child);
    expect(child.stdin?.writableEnded).toBe(false); // never ended by us
    child.stdin?.destroy();
    expect(JSON.parse(done.out)).toMatchObject({ verdict: 'keep', primary: 5 });
    const out = fs.readFileSync(path.join(repo, '.autoloop/experiments/p/runs/r0001/output.log'), 'utf8');
    expect(out).toContain('stdin: eof');
    expect(out).not.toContain('tty:');
    // Started from a terminal (script(1) gives the engine one): the benchmark still reads no terminal, and sees none.
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    const env = { ...process.env, NODE: process.execPath, ENGINE: bundle('run-experiment'), REPO: repo, SHELL: '/bin/sh' };
    const tty = spawnSync('script', ['-qec', 'exec "$NODE" "$ENGINE" --description four --cwd "$REPO"', '/dev/null'], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(tty.status, tty.stdout + tty.stderr).toBe(0);
    const four = fs.readFileSync(path.join(repo, '.autoloop/experiments/p/runs/r0002/output.log'), 'utf8');
    expect(four).toContain('stdin: eof');
    expect(four).not.toContain('tty:');
    expect(results(repo).map((l) => [l.verdict, l.primary])).toEqual([['keep', 5], ['keep', 4]]);
  });

  it('ends a benchmark that daemonises (forks, parent exits, the child keeps writing) with the run: no orphan survives', HANG_GUARD, async () => {
    const repo = makeRepo({
      'v.txt': '5\n',
      // A new session, out of the run's folder, deaf to SIGTERM and SIGHUP: found by nothing but the run's containment.
      'bench.sh': 'd=$(pwd)\nsetsid sh -c \'cd /; trap "" HUP TERM; while :; do echo tick >> "$1"; sleep 0.1; done\' sh "$d/daemon.out" </dev/null >/dev/null 2>&1 &\nwhile [ ! -s daemon.out ]; do sleep 0.1; done\n' + BENCH,
      '.gitignore': 'daemon.out\n',
    });
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep', primary: 5 });
    expect(processesIn(repo)).toEqual([]);
    expect(naming(path.join(repo, 'daemon.out'))).toEqual([]);
    const ticks = fs.readFileSync(path.join(repo, 'daemon.out'), 'utf8');
    await new Promise((r) => setTimeout(r, 500));
    expect(fs.readFileSync(path.join(repo, 'daemon.out'), 'utf8')).toBe(ticks);
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    expect(run(repo, 'four').json).toMatchObject({ verdict: 'keep', primary: 4 });
    expect(naming(path.join(repo, 'daemon.out'))).toEqual([]);
  });

  it('takes odd but real METRIC lines at their value and refuses the unreadable ones in one line, never keeping a wrong number', HANG_GUARD, () => {
    // The benchmark prints v.txt as it is: whatever line a user's tool writes.
    const repo = makeRepo({ 'v.txt': 'METRIC n=5\n', 'bench.sh': 'cat v.txt\n' });
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep', primary: 5 });
    const measure = (line: string) => {
      fs.writeFileSync(path.join(repo, 'v.txt'), line);
      return run(repo, JSON.stringify(line)).json as Record<string, unknown>;
    };
    expect(measure('METRIC n=4\r\n')).toMatchObject({ verdict: 'keep', primary: 4 });
    expect(measure('METRIC n=3e0\r\n')).toMatchObject({ verdict: 'keep', primary: 3 });
    for (const [line, why] of [['METRIC n=1_000\n', 'not a number: "1_000"'], ['METRIC n=NaN\n', 'non-finite value NaN'], ['METRIC n=inf\n', 'non-finite value inf'], ['METRIC n=-inf\n', 'non-finite value -inf']] as const) {
      const r = measure(line);
      expect(r).toMatchObject({ verdict: 'invalid', primary: null, best: 3 });
      expect(r.reason).toBe(`metric n was not printed (expected a line "METRIC n=<number>"); ignored METRIC line "${line.trim()}": ${why}`);
    }
    // The METRIC line in two writes, a pause between them: one line, its whole number.
    fs.writeFileSync(path.join(repo, 'bench.sh'), "printf 'METRIC n=2'; sleep 0.3; printf '5\\n'\n");
    git(repo, 'commit', '-qam', 'bench writes in two parts');
    const reinit = init(repo);
    expect(reinit.code, reinit.stderr).toBe(0);
    expect(run(repo, 'rebase').json).toMatchObject({ verdict: 'keep', primary: 25 });
    fs.writeFileSync(path.join(repo, 'bench.sh'), "printf 'METRIC n=1e-'; sleep 0.3; printf '3\\n'\n");
    git(repo, 'commit', '-qam', 'tiny');
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'rebase').json).toMatchObject({ verdict: 'keep', primary: 0.001 });
    fs.writeFileSync(path.join(repo, 'v.txt'), 'METRIC n=-0\n');
    fs.writeFileSync(path.join(repo, 'bench.sh'), 'cat v.txt\n');
    git(repo, 'commit', '-qam', 'back to cat');
    expect(init(repo).code).toBe(0);
    const zero = run(repo, 'rebase').json;
    expect(zero).toMatchObject({ verdict: 'keep', primary: 0 });
    expect(Object.is(zero?.primary, -0)).toBe(false);
    // Every number the ledger holds is one the benchmark printed.
    expect(results(repo).map((l) => l.primary)).toEqual([5, 4, 3, null, null, null, null, 25, 0.001, 0]);
  });

  it("never commits what the benchmark writes (a cache, a results file) nor the user's untracked work, keep or discard", HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': 'mkdir -p .cache && date > .cache/stamp\necho "$(cat v.txt)" >> results.csv\n' + BENCH });
    fs.writeFileSync(path.join(repo, 'wip.txt'), 'my draft\n');
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    expect(run(repo, 'four').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '6\n');
    expect(run(repo, 'six').json).toMatchObject({ verdict: 'discard' });
    expect(git(repo, 'ls-tree', '-r', '--name-only', 'autoloop/p')).toBe('bench.sh\nv.txt');
    expect(git(repo, 'diff', '--name-only', 'main', 'autoloop/p')).toBe('v.txt');
    expect(fs.readFileSync(path.join(repo, 'wip.txt'), 'utf8')).toBe('my draft\n');
    expect(fs.readFileSync(path.join(repo, 'results.csv'), 'utf8')).toBe('5\n4\n6\n');
    expect(fs.existsSync(path.join(repo, '.cache/stamp'))).toBe(true);
    expect(fs.readFileSync(path.join(repo, 'v.txt'), 'utf8')).toBe('4\n');
  });

  it('refuses a benchmark that rewrites a tracked results file, in one line, and goes on once it is put back', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'results.txt': 'header\n', 'bench.sh': 'echo "run $(cat v.txt)" >> results.txt\n' + BENCH });
    expect(init(repo).code).toBe(0);
    const first = run(repo, 'baseline');
    expect(first.json).toMatchObject({ verdict: 'invalid', reason: 'the benchmark changed files outside the scope: results.txt (it may only create new or ignored files there)' });
    const next = run(repo, 'baseline');
    expect(next.code).toBe(1);
    expect(next.stderr).toMatch(/^run-experiment: results\.txt outside the scope still holds what the code under test of r0001 wrote there [^\n]*\n$/);
    expect(results(repo).map((l) => l.verdict)).toEqual(['invalid']);
    // The user fixes the benchmark to write an untracked file, and puts the tracked one back.
    git(repo, 'checkout', '--', 'results.txt');
    fs.writeFileSync(path.join(repo, 'bench.sh'), 'echo "run $(cat v.txt)" >> results.log\n' + BENCH);
    git(repo, 'commit', '-qam', 'results to an untracked log');
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep', primary: 5 });
    expect(fs.readFileSync(path.join(repo, 'results.txt'), 'utf8')).toBe('header\n');
  });

  it('keeps and discards in a repository with LFS filters configured but no git-lfs installed', HANG_GUARD, () => {
    const pointer = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n';
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': BENCH, '.gitattributes': '*.bin filter=lfs diff=lfs merge=lfs -text\n', 'data.bin': pointer });
    // As `git lfs install` left them, the binary since removed: every filter run fails.
    for (const [k, v] of [['filter.lfs.clean', 'git-lfs clean -- %f'], ['filter.lfs.smudge', 'git-lfs smudge -- %f'], ['filter.lfs.process', 'git-lfs filter-process'], ['filter.lfs.required', 'true']]) git(repo, 'config', k as string, v as string);
    expect(spawnSync('git', ['add', '--renormalize', 'data.bin'], { cwd: repo }).status).not.toBe(0);
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    expect(run(repo, 'four').json).toMatchObject({ verdict: 'keep', primary: 4 });
    fs.writeFileSync(path.join(repo, 'v.txt'), '6\n');
    expect(run(repo, 'six').json).toMatchObject({ verdict: 'discard' });
    expect(fs.readFileSync(path.join(repo, 'v.txt'), 'utf8')).toBe('4\n');
    expect(fs.readFileSync(path.join(repo, 'data.bin'), 'utf8')).toBe(pointer);
    expect(git(repo, 'show', 'autoloop/p:data.bin') + '\n').toBe(pointer);
  });

  it('with core.fileMode=false, refuses a chmod +x git cannot see instead of taking it for the unchanged best; staged, it is judged and kept', HANG_GUARD, () => {
    const repo = makeRepo({ 'run.sh': 'echo "METRIC n=1"\n', 'bench.sh': 'if [ -x run.sh ]; then ./run.sh; else echo "METRIC n=10"; fi\n' });
    git(repo, 'config', 'core.fileMode', 'false');
    expect(init(repo, ['--scope', 'run.sh']).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep', primary: 10 });
    fs.chmodSync(path.join(repo, 'run.sh'), 0o755);
    const hidden = run(repo, 'exec');
    // Was: "rebaseline: the unchanged best was re-measured", and the best became 1 while its commit scores 10.
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toBe('run-experiment: the executable bit of run.sh differs from the committed one, and git does not see it (core.fileMode=false), so the run would measure what no keep records: chmod it back, or stage the mode (git update-index --chmod=+x run.sh) so the loop judges it\n');
    expect(engine('status', ['--json'], repo).json).toMatchObject({ best: 10 });
    // As told: staged, the change is judged and the keep records the mode.
    git(repo, 'update-index', '--chmod=+x', 'run.sh');
    expect(run(repo, 'exec').json).toMatchObject({ verdict: 'keep', primary: 1 });
    expect(git(repo, 'ls-tree', 'autoloop/p', 'run.sh')).toMatch(/^100755 /);
    fs.appendFileSync(path.join(repo, 'run.sh'), '# note\n');
    expect(run(repo, 'comment').json).toMatchObject({ verdict: 'discard' });
    expect(fs.statSync(path.join(repo, 'run.sh')).mode & 0o111).not.toBe(0);
    expect(results(repo).map((l) => l.primary)).toEqual([10, 1, 1]);
  });

  it("with core.fileMode=false, refuses the same hidden chmod in a parallel candidate's worktree, naming the tree in the command", HANG_GUARD, () => {
    const repo = makeRepo({ 'run.sh': 'echo "METRIC n=1"\n', 'bench.sh': 'if [ -x run.sh ]; then ./run.sh; else echo "METRIC n=10"; fi\n' });
    git(repo, 'config', 'core.fileMode', 'false');
    expect(init(repo, ['--scope', 'run.sh', '--parallel', '2', '--parallel-timing', 'parallel']).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep', primary: 10 });
    const { candidate: id, path: tree } = engine('candidate', ['start', '--json'], repo).json as { candidate: string; path: string };
    fs.chmodSync(path.join(tree, 'run.sh'), 0o755);
    const hidden = engine('run-experiment', ['--candidate', id, '--json'], repo);
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toBe(`run-experiment: the executable bit of run.sh differs from the committed one, and git does not see it (core.fileMode=false), so the run would measure what no keep records: chmod it back, or stage the mode (git -C ${tree} update-index --chmod=+x run.sh) so the loop judges it\n`);
    git(tree, 'update-index', '--chmod=+x', 'run.sh');
    expect(engine('run-experiment', ['--candidate', id, '--json'], repo).json).toMatchObject({ status: 'ok', primary: 1, files: ['run.sh'] });
    expect(engine('log-experiment', ['--candidate', id, '--description', 'exec', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'ls-tree', 'autoloop/p', 'run.sh')).toMatch(/^100755 /);
  });

  it('notices a user who amended the experiment branch and ran git gc mid-loop: one line, repair keeps their commit, the loop goes on', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': BENCH });
    expect(init(repo).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    const kept = run(repo, 'four').json?.commit as string;
    fs.writeFileSync(path.join(repo, 'NOTE.md'), 'why four\n');
    git(repo, 'add', 'NOTE.md');
    git(repo, 'commit', '-q', '--amend', '-m', 'four, with my note');
    const amended = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'gc', '-q', '--prune=now');
    fs.writeFileSync(path.join(repo, 'v.txt'), '3\n');
    const refused = run(repo, 'three');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`run-experiment: branch autoloop/p is at ${amended.slice(0, 12)}, but the engine last kept ${kept} (a commit or reset made outside the loop); run control.mjs repair to put it back (the other commit is saved), or init-experiment to adopt it\n`);
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    const saved = /saved as (refs\/autoloop\/moved\/p\/\S+)\)/.exec(repair.stdout)?.[1] as string;
    expect(git(repo, 'rev-parse', saved)).toBe(amended);
    expect(git(repo, 'show', `${saved}:NOTE.md`)).toBe('why four');
    fs.writeFileSync(path.join(repo, 'v.txt'), '3\n');
    expect(run(repo, 'three').json).toMatchObject({ verdict: 'keep', primary: 3 });
    expect(results(repo).map((l) => l.verdict)).toEqual(['keep', 'keep', 'keep']);
  });

  it('under a decimal-comma locale, refuses "5,5" in one line (never 3 nor 35) and prints its own figures with a dot', HANG_GUARD, () => {
    const repo = makeRepo({
      'v.txt': '5\n',
      // A tool that follows the locale, as printf with a de_DE LC_NUMERIC does.
      'bench.sh': 'v=$(cat v.txt)\ncase "${LC_ALL:-${LC_NUMERIC:-}}" in de_*) echo "METRIC n=$v,5";; *) echo "METRIC n=$v.5";; esac\n',
    });
    const de = { LC_ALL: 'de_DE.UTF-8', LANG: 'de_DE.UTF-8' };
    expect(init(repo, [], de).code).toBe(0);
    const comma = run(repo, 'baseline', de).json;
    expect(comma).toMatchObject({ verdict: 'invalid', primary: null });
    // Was: `not a number: "5,5"` alone, and a rerun under LC_NUMERIC=C measured the same comma (the environment is init's).
    expect(comma?.reason).toBe('metric n was not printed (expected a line "METRIC n=<number>"); ignored METRIC line "METRIC n=5,5": not a number: "5,5" (a decimal comma or a thousands separator: print the number plainly with a dot; a program following the locale does under LC_NUMERIC=C with LC_ALL unset, set before init-experiment, which fixes the benchmark\'s environment)');
    // As told: the segment opened again under LC_NUMERIC=C; the engine's own output still in de_DE.
    const dot = { LC_ALL: '', LANG: 'de_DE.UTF-8', LC_NUMERIC: 'C' };
    expect(init(repo, [], dot).code).toBe(0);
    expect(run(repo, 'baseline', dot).json).toMatchObject({ verdict: 'keep', primary: 5.5 });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    expect(run(repo, 'four', de).json).toMatchObject({ verdict: 'keep', primary: 4.5 });
    expect(results(repo).map((l) => l.primary)).toEqual([null, 5.5, 4.5]);
    const status = engine('status', [], repo, de).stdout;
    expect(status).toContain('n (lower is better): best 4.5 vs baseline 5.5 (+18.2%');
  });

  it('does not keep a change whose primary improves while a guardrail regresses past its limit', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5 100\n', 'bench.sh': 'read n m < v.txt\necho "METRIC n=$n"\necho "METRIC mem=$m"\n' });
    expect(init(repo, ['--guardrail', 'mem:lower:5']).code).toBe(0);
    expect(run(repo, 'baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4 200\n');
    const r = run(repo, 'faster, twice the memory').json;
    expect(r).toMatchObject({ verdict: 'discard', primary: 4, best: 5 });
    expect(r?.reason).toMatch(/^guardrail mem 200 > 105 allowed \(baseline 100\)/);
    expect(fs.readFileSync(path.join(repo, 'v.txt'), 'utf8')).toBe('5 100\n');
    expect(git(repo, 'rev-list', '--count', 'autoloop/p')).toBe('1');
    fs.writeFileSync(path.join(repo, 'v.txt'), '4 103\n');
    expect(run(repo, 'faster, within the limit').json).toMatchObject({ verdict: 'keep', primary: 4 });
  });
});
