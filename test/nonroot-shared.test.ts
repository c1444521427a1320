// Two users who are not root sharing one repository through a group (the
// repository group-writable and setgid, core.sharedRepository=group): user A
// runs the loop, user B looks at it (status, dashboard, the status line, the
// hooks) and may take it over. What must work works for both; what cannot
// (git's refusal of another user's repository, a .autoloop/ that A kept to
// itself) is one line naming the remedy, and .autoloop/ is never left changed.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/engine.ts';
import { hasSetpriv, isRoot, makeUser, type User } from './helpers/as-user.ts';

const GROUP = 4242;
const UID_A = 4001;
const UID_B = 4002;
const EXP = '.autoloop/experiments/exp';
const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');

/** A repository owned by A, group-writable and setgid for GROUP, as `git init --shared=group` and a chgrp leave one. */
function sharedRepo(bench = 'echo METRIC score=$(cat src/v)\n'): string {
  const repo = makeRepo({ 'bench.sh': bench, 'src/v': '10\n' });
  const steps: [string, string[]][] = [
    ['git', ['config', 'core.sharedRepository', 'group']],
    ['chown', ['-R', `${UID_A}:${GROUP}`, '.']],
    ['chmod', ['-R', 'g+rwX', '.']],
    ['find', ['.', '-type', 'd', '-exec', 'chmod', 'g+s', '{}', '+']],
  ];
  for (const [cmd, args] of steps) expect(spawnSync(cmd, args, { cwd: repo }).status).toBe(0);
  return repo;
}

function startLoop(a: User, repo: string): void {
  const init = a.engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
  expect(init.code, init.stderr).toBe(0);
  expect(a.engine('run-experiment', ['-d', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 10 });
}

const trust = (u: User, repo: string) => u.sh(repo, `git config --global --add safe.directory '${repo}'`);

const HOOK = (repo: string, command: string) =>
  JSON.stringify({ session_id: 'b', transcript_path: path.join(repo, 'none.jsonl'), cwd: repo, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command, description: 'x' }, tool_use_id: 't1' });

/** Every file under .autoloop/ with its bytes: what a refused call must leave as it was. */
function stateOf(repo: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(path.join(repo, '.autoloop'), { recursive: true, encoding: 'utf8' })) {
    const p = path.join(repo, '.autoloop', f);
    if (fs.statSync(p).isFile()) out[f] = fs.readFileSync(p, 'base64');
  }
  return out;
}

describe.skipIf(!isRoot || !hasSetpriv)('two users sharing one repository through a group', { timeout: 600_000 }, () => {
  it('B is told in one line what git wants before it trusts A\'s repository; trusted, B reads the loop, the hooks guard it, B takes over a lock A\'s dead process left', () => {
    const a = makeUser(UID_A, { gid: GROUP, umask: '002' });
    const b = makeUser(UID_B, { gid: GROUP, umask: '002' });
    const repo = sharedRepo();
    startLoop(a, repo);
    // git refuses a repository another user owns; its remedy was on a line the engine dropped.
    const refused = b.engine('status', [], repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `status: error: git refuses the repository at ${repo}: another user owns it, and git trusts only your own repositories; if you trust it, run once: git config --global --add safe.directory ${repo}\n`,
    );
    trust(b, repo);
    expect(b.engine('status', [], repo).stdout).toMatch(/experiment exp \(segment 1, active\)[\s\S]*r0001 keep 10/);
    expect(b.engine('dashboard', [], repo).stdout).toMatch(/autoloop exp · segment 1/);
    const line = b.engine('statusline.mjs', [], repo, { input: JSON.stringify({ session_id: 'b', cwd: repo, workspace: { current_dir: repo } }) });
    expect(line.stdout).toMatch(/autoloop exp · best 10/);
    const hook = b.engine('hooks.cjs', ['pre-tool-use'], repo, { input: HOOK(repo, 'echo x >> bench.sh'), env: { CLAUDE_PROJECT_DIR: repo } });
    expect(hook.stdout, hook.stderr).toMatch(/"permissionDecision":"deny".*bench\.sh is protected/);
    // A's engine died holding the lock: B's next call takes it over and measures.
    a.sh(repo, `printf '%s\\n' '{"pid":999999,"owner":"run-experiment","started_at":"2026-01-01T00:00:00.000Z","token":"t","proc_start":null}' > .autoloop/lock`);
    b.sh(repo, 'echo 6 > src/v');
    expect(b.engine('run-experiment', ['-d', 'B: 6', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 6 });
    expect(fs.existsSync(path.join(repo, '.autoloop/lock'))).toBe(false);
    // And A goes on after B.
    trust(a, repo);
    a.sh(repo, 'echo 5 > src/v');
    expect(a.engine('run-experiment', ['-d', 'A: 5', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 5 });
    expect(read(repo, `${EXP}/ledger.jsonl`).trim().split('\n').map((l) => (JSON.parse(l) as { description?: string }).description)).toEqual(
      expect.arrayContaining(['baseline', 'B: 6', 'A: 5']),
    );
  });

  it('A kept .autoloop/ to itself (umask 022): B\'s changes are refused in one line naming the folder, its owner and the remedy; nothing in it changes; B still reads the loop', () => {
    const a = makeUser(UID_A, { gid: GROUP, umask: '022' });
    const b = makeUser(UID_B, { gid: GROUP, umask: '002' });
    const repo = sharedRepo();
    startLoop(a, repo);
    trust(b, repo);
    b.sh(repo, 'echo 6 > src/v');
    const before = stateOf(repo);
    const state = path.join(repo, '.autoloop');
    for (const [name, args] of [['run-experiment', ['-d', 'B: 6']], ['control', ['repair']]] as const) {
      const r = b.engine(name, [...args], repo);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toBe(
        `${name}: error: ${state} is not writable by you (uid ${UID_B}): it belongs to uid ${UID_A}, group ${GROUP}, mode 2755; only a user who may write there can change this loop (status, dashboard and report only read it). ` +
          'To share the loop, its owner makes it group-writable for a group you are in (chgrp -R GROUP .autoloop; chmod -R g+rwX .autoloop; and umask 002 for both users)\n',
      );
    }
    expect(stateOf(repo)).toEqual(before);
    expect(b.engine('status', [], repo).stdout).toMatch(/r0001 keep 10/);
    expect(b.engine('dashboard', [], repo).stdout).toMatch(/autoloop exp · segment 1/);
    // A, its owner, goes on.
    a.sh(repo, 'echo 5 > src/v');
    expect(a.engine('run-experiment', ['-d', 'A: 5', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 5 });
  });

  // Every run prints 70 kB, over what the retention rule keeps of an old log.
  const LOUD = "head -c 70000 /dev/zero | tr '\\0' x; echo\necho METRIC score=$(cat src/v)\n";
  const cut = (repo: string, run: string) => /^\[autoloop: \d+ earlier bytes of this log were dropped/.test(read(repo, `${EXP}/runs/${run}/output.log`));
  const modeOf = (repo: string, rel: string) => (fs.statSync(path.join(repo, rel)).mode & 0o7777).toString(8);

  /** A's five runs after B's discard r0002: r0002 leaves the last five, its log due for a cut. */
  function fiveByA(a: User, repo: string): void {
    for (const v of [9, 8, 7, 6, 5]) {
      // B's revert wrote src/v anew, with B's umask: A replaces it (src/ is the group's) rather than writes into it.
      a.sh(repo, `rm -f src/v; echo ${v} > src/v`);
      const r = a.engine('run-experiment', ['-d', `A: ${v}`, '--json'], repo);
      expect(r.stderr).toBe('');
      expect(r.json).toMatchObject({ verdict: 'keep', primary: v });
    }
    expect(JSON.parse(read(repo, '.autoloop/active.json'))).toMatchObject({ experiment: 'exp' });
    expect(a.engine('status', ['--json'], repo).json).toMatchObject({ best: 5 });
  }

  function discardByB(umask: string): { a: User; b: User; repo: string } {
    const a = makeUser(UID_A, { gid: GROUP, umask: '002' });
    const b = makeUser(UID_B, { gid: GROUP, umask });
    const repo = sharedRepo(LOUD);
    startLoop(a, repo);
    trust(a, repo);
    trust(b, repo);
    b.sh(repo, 'echo 11 > src/v');
    expect(b.engine('run-experiment', ['-d', 'B: 11', '--json'], repo).json).toMatchObject({ verdict: 'discard' });
    return { a, b, repo };
  }

  it('B\'s umask is 022: what B\'s engine makes in the shared .autoloop/ is the group\'s too, and A\'s engine trims B\'s log later', () => {
    const { a, repo } = discardByB('022');
    expect(modeOf(repo, `${EXP}/runs/r0002`)).toBe('2775');
    expect(modeOf(repo, `${EXP}/runs/r0002/output.log`)).toBe('664');
    expect(modeOf(repo, 'src/v')).toBe('664'); // put back by B's engine, for the group as well
    fiveByA(a, repo);
    expect(cut(repo, 'r0002')).toBe(true);
  });

  it('a log A may not cut (B made its run folder its own) is left whole; A\'s runs log on', () => {
    const { a, b, repo } = discardByB('002');
    b.sh(repo, `chmod 755 ${EXP}/runs/r0002; chmod 644 ${EXP}/runs/r0002/output.log`);
    fiveByA(a, repo);
    expect(cut(repo, 'r0002')).toBe(false);
    expect(fs.readdirSync(path.join(repo, `${EXP}/runs/r0002`)).sort()).toEqual(['output.log', 'result.json']);
    expect(cut(repo, 'r0003')).toBe(false); // A's own, within the last five
  });
});
