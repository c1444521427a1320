// A user's journeys with the engine run as `nobody` (test/helpers/as-user.ts),
// since root, which the rest of the suite runs as, ignores permission bits:
// init, baseline, keeps and discards that add, remove and rename files, in
// folders the user's code made read-only too (a 0555 folder, 0444 files, an
// artifact folder the benchmark leaves 0555), a crash, a timeout whose
// children ignore SIGTERM, a run killed mid-way and repaired, retention of
// old logs, finalize, report, dashboard, status line, the hooks, snapshot
// mode, a chain that brings the parent's artifacts back, parallel candidates.
// The read-only-folder journeys run as root as well: both end the same.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/engine.ts';
import { hasSetpriv, isRoot, makeUser, NOBODY, type User } from './helpers/as-user.ts';

const EXP = '.autoloop/experiments/exp';
// The metric is src/v; every run prints 70 kB (for retention) and leaves out/ (its artifact) read-only.
const BENCH = `read -r v < src/v
case "$v" in *crash*) echo boom >&2; exit 3;; esac
case "$v" in *slow*) sh -c 'trap "" TERM; exec sleep 86399' & trap "" TERM; touch tmp/slow.started; sleep 86398;; esac
head -c 70000 /dev/zero | tr '\\0' x; echo
mkdir -p out; chmod 755 out; rm -f out/gen.txt; echo "gen $v" > out/gen.txt; chmod 444 out/gen.txt; chmod 555 out
echo "METRIC score=$v"
`;
const FILES = { 'bench.sh': BENCH, 'src/v': '10\n', 'src/a': 'a\n', 'src/c': 'c\n', '.gitignore': 'out/\ntmp/\n', 'tmp/.keep': '' };

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
const exists = (dir: string, rel: string) => fs.existsSync(path.join(dir, rel));
const mode = (dir: string, rel: string) => (fs.statSync(path.join(dir, rel)).mode & 0o777).toString(8);

function init(user: User, repo: string, extra: string[] = []): void {
  const r = user.engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--timeout', '2', '--artifacts', 'out/**', ...extra], repo);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

function measure(user: User, repo: string, d: string, extra: string[] = []): Record<string, unknown> {
  const r = user.engine('run-experiment', ['-d', d, '--json', ...extra], repo);
  expect(r.json, `${r.stdout}\n${r.stderr}`).not.toBeNull();
  return r.json as Record<string, unknown>;
}

function repoOf(user: User, git: boolean): string {
  return user.repo(`nonroot-${git}`, () => makeRepo(FILES, { git }));
}

/** Baseline; a keep that renames, removes and adds, with a read-only folder; a discard inside and beside it. */
function readOnlyJourney(user: User, repo: string): void {
  expect(measure(user, repo, 'baseline')).toMatchObject({ verdict: 'keep', primary: 10 });
  user.sh(repo, 'echo 6 > src/v; mv src/a src/b; rm src/c; echo n > src/n; mkdir src/ro; echo k > src/ro/k; echo f > src/ro/f; chmod 444 src/ro/*; chmod 555 src/ro');
  expect(measure(user, repo, 'keep: read-only folder')).toMatchObject({ verdict: 'keep', primary: 6 });
  // The user's code changes a file in its read-only folder, adds one there and a read-only folder beside it.
  user.sh(repo, 'echo 7 > src/v; chmod 755 src/ro; chmod 644 src/ro/f; echo f2 > src/ro/f; echo h > src/ro/h; chmod 444 src/ro/f src/ro/h; chmod 555 src/ro; mkdir src/ro2; echo z > src/ro2/z; chmod 444 src/ro2/z; chmod 555 src/ro2');
  const d = measure(user, repo, 'discard in a read-only folder');
  expect(d).toMatchObject({ verdict: 'discard', primary: 7 });
  expect(read(repo, 'src/v')).toBe('6\n');
  expect(read(repo, 'src/ro/f')).toBe('f\n');
  expect(read(repo, 'src/ro/k')).toBe('k\n');
  expect(exists(repo, 'src/ro/h')).toBe(false);
  expect(exists(repo, 'src/ro2')).toBe(false);
  expect(mode(repo, 'src/ro')).toBe('555'); // as the user left it, as root's run leaves it
  expect(read(repo, `${EXP}/rescued/r0003/src/ro/h.autoloop-copy`)).toBe('h\n');
  expect(read(repo, `${EXP}/rescued/r0003/src/ro2/z.autoloop-copy`)).toBe('z\n');
  // The best's artifact is back in the folder the benchmark left read-only.
  expect(read(repo, 'out/gen.txt')).toBe('gen 6\n');
  expect(mode(repo, 'out')).toBe('555');
  expect(read(repo, `${EXP}/rescued/r0003/out/gen.txt.autoloop-copy`)).toBe('gen 7\n');
  const st = user.engine('status', ['--json'], repo);
  expect(st.json, st.stderr).toMatchObject({ experiment: 'exp' });
}

/** Pids of this user's processes whose command line holds `needle`. */
function processesOf(uid: number, needle: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.statSync(`/proc/${p}`).uid !== uid) continue;
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 50));
}

const HOOK = (repo: string, command: string) =>
  JSON.stringify({ session_id: 'nr', transcript_path: path.join(repo, 'none.jsonl'), cwd: repo, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command, description: 'x' }, tool_use_id: 't1' });

describe.skipIf(!isRoot || !hasSetpriv)('the engine as a user who is not root', { timeout: 600_000 }, () => {
  for (const uid of [NOBODY, 0]) {
    for (const git of [true, false]) {
      it(`${uid === 0 ? 'root' : 'nobody'}, ${git ? 'git' : 'snapshot'} mode: keeps and discards in folders the user's code made read-only, its artifact folder too`, () => {
        const user = makeUser(uid);
        const repo = repoOf(user, git);
        init(user, repo);
        readOnlyJourney(user, repo);
      });
    }
  }

  it('nobody, git mode: crash, a timeout whose children ignore SIGTERM, a killed run repaired, retention, finalize, report, dashboard, status line, hooks', async () => {
    const user = makeUser(NOBODY);
    const repo = repoOf(user, true);
    init(user, repo);
    readOnlyJourney(user, repo);
    user.sh(repo, 'echo crash > src/v');
    expect(measure(user, repo, 'crash')).toMatchObject({ status: 'crash', verdict: 'crash' });
    expect(read(repo, 'src/v')).toBe('6\n');
    user.sh(repo, 'echo slow > src/v');
    expect(measure(user, repo, 'slow')).toMatchObject({ status: 'timeout' });
    expect(processesOf(NOBODY, 'sleep 8639')).toEqual([]);
    // Killed while its benchmark runs: the next calls repair, nothing of it stays running.
    user.sh(repo, 'echo slow > src/v; rm -f tmp/slow.started');
    const child = user.engineAsync('run-experiment', ['-d', 'killed'], repo);
    await until(() => exists(repo, 'tmp/slow.started'));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const repair = user.engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    await until(() => processesOf(NOBODY, 'sleep 8639').length === 0);
    user.sh(repo, 'echo 5 > src/v');
    expect(measure(user, repo, 'after the kill')).toMatchObject({ verdict: 'keep', primary: 5 });
    for (const v of [4, 3, 2]) {
      user.sh(repo, `echo ${v} > src/v`);
      expect(measure(user, repo, `keep ${v}`)).toMatchObject({ verdict: 'keep' });
    }
    // Retention: the discard's 70 kB log, out of the last five, is cut to its tail.
    expect(read(repo, `${EXP}/runs/r0003/output.log`)).toMatch(/^\[autoloop: \d+ earlier bytes of this log were dropped by the retention rule\]/);
    const fin = user.engine('finalize', ['--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(user.sh(repo, 'git log --format=%s main..autoloop/exp-final')).toMatch(/keep: read-only folder/);
    const report = user.engine('report', [], repo);
    expect(report.stdout, report.stderr).toMatch(/# autoloop report: exp/);
    expect(user.engine('dashboard', [], repo).stdout).toMatch(/autoloop exp/);
    const html = user.engine('dashboard', ['--html', path.join(repo, 'tmp/d.html')], repo);
    expect(html.code, html.stderr).toBe(0);
    expect(read(repo, 'tmp/d.html')).toMatch(/<html/i);
    const line = user.engine('statusline.mjs', [], repo, { input: JSON.stringify({ session_id: 'nr', cwd: repo, workspace: { current_dir: repo } }) });
    expect(line.stdout).toMatch(/autoloop exp · best 2/);
    const hook = user.engine('hooks.cjs', ['pre-tool-use'], repo, { input: HOOK(repo, 'echo x >> bench.sh'), env: { CLAUDE_PROJECT_DIR: repo } });
    expect(hook.code, hook.stderr).toBe(0);
    expect(hook.stdout, hook.stderr).toMatch(/"permissionDecision":"deny".*bench\.sh is protected/);
  });

  it('nobody, snapshot mode: a chain brings the parent\'s artifact back into the read-only folder', () => {
    const user = makeUser(NOBODY);
    const repo = repoOf(user, false);
    init(user, repo, ['--max-runs', '3']);
    readOnlyJourney(user, repo);
    // The user's own file where the best's artifact goes: set aside, the best's put in its place.
    user.sh(repo, 'chmod 755 out; rm -f out/gen.txt; echo mine > out/gen.txt; chmod 444 out/gen.txt; chmod 555 out');
    const chain = user.engine('chain', ['--name', 'child', '--rationale', 'go on', '--artifacts-from-parent', '--json'], repo);
    expect(chain.code, chain.stderr).toBe(0);
    expect(read(repo, 'out/gen.txt')).toBe('gen 6\n');
    expect(mode(repo, 'out')).toBe('555');
    expect(measure(user, repo, 'child baseline')).toMatchObject({ verdict: 'keep', primary: 6 });
  });

  it('nobody, snapshot mode: the best\'s copy, where the benchmark left a read-only folder, is replaced at the next keep', () => {
    const user = makeUser(NOBODY);
    // Noisy (so the best is measured beside each change, in its copy); a new read-only folder per sample.
    const bench = 'read -r v < src/v\nd=$(mktemp -d ./c.XXXXXX); echo x > "$d/x"; chmod 555 "$d"\necho "METRIC score=$v.$(od -An -N1 -tu1 /dev/urandom | tr -d \' \')"\n';
    const repo = user.repo('nonroot-noisy', () => makeRepo({ 'bench.sh': bench, 'src/v': '10\n' }, { git: false }));
    const r = user.engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '3'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(measure(user, repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    for (const v of [8, 6]) {
      user.sh(repo, `echo ${v} > src/v`);
      expect(measure(user, repo, `keep ${v}`)).toMatchObject({ verdict: 'keep' });
    }
    expect(fs.readdirSync(path.join(repo, EXP, 'best')).length).toBe(1);
  });

  it('nobody: a candidate whose code left read-only folders is logged, its worktree removed, its keep brought into the main tree', () => {
    const user = makeUser(NOBODY);
    const repo = repoOf(user, true);
    init(user, repo, ['--parallel', '2']);
    expect(measure(user, repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    user.sh(repo, 'echo 6 > src/v; mkdir src/ro; echo f > src/ro/f; chmod 444 src/ro/f; chmod 555 src/ro');
    expect(measure(user, repo, 'keep: read-only folder')).toMatchObject({ verdict: 'keep' });
    const start = user.engine('candidate', ['start', '--json'], repo);
    expect(start.code, start.stderr).toBe(0);
    const { candidate, path: tree } = start.json as { candidate: string; path: string };
    user.sh(tree, 'echo 4 > src/v; echo g > src/ro/g; chmod 444 src/ro/g; chmod 555 src/ro');
    expect(user.engine('run-experiment', ['--candidate', candidate, '--json'], repo).json).toMatchObject({ status: 'ok', primary: 4 });
    const log = user.engine('log-experiment', ['--candidate', candidate, '-d', 'candidate', '--json'], repo);
    expect(log.stderr).toBe('');
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(tree)).toBe(false);
    expect(read(repo, 'src/ro/g')).toBe('g\n');
    expect(mode(repo, 'src/ro')).toBe('555');
    expect(user.engine('candidate', ['list'], repo).stdout).toMatch(/no open candidate|0 of 2/);
  });
});
