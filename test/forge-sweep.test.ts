// Code under test that tries to win by cheating through the repository's
// `.git`, which stays writable to it under every containment (README, "What it
// cannot promise"): what the engine reads back from git must still be what it
// recorded. Real engine, real repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, fromTemplate, git, makeRepo } from './helpers/engine.ts';
import { PACK_FORGER } from './helpers/forge.ts';

const CONTAINMENTS: Record<string, Record<string, string>> = {
  readonly: {},
  pidns: { AUTOLOOP_CONTAINMENT: 'pidns' },
  group: { AUTOLOOP_CONTAINMENT: 'group' },
};

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';
// Plants a replacement of this run's own src/v blob by a blob saying 1000:
// once kept, every checkout of the best (its tree for re-measures, a revert
// after a discard, finalize) would read 1000, and anything would beat it.
const PLANT = 'b=$(git hash-object src/v); f=$(printf "1000\\n" | git hash-object -w --stdin); git replace -f "$b" "$f"\n';
// Overwrites the loose object of this run's own src/v blob (which the engine
// wrote before the run) with the object of a blob saying 1000: git never
// checks an object's hash when it reads one.
const FORGE = 'b=$(git hash-object src/v); f=$(printf "1000\\n" | git hash-object -w --stdin); o=.git/objects; chmod u+w "$o/${b%${b#??}}/${b#??}"; cp "$o/${f%${f#??}}/${f#??}" "$o/${b%${b#??}}/${b#??}"\n';

const PACK = 'node forge.js .git/objects "$(git hash-object src/v)" "1000\n"\n';

// The state nearly every test here starts from: init and a kept baseline (src/v = 50) under one
// containment. It is built once per containment (fromTemplate: the set-up's engine calls were most of
// this file's CPU) and each test gets a copy; nothing in it names its own path. The repository holds
// forge.js and src/w for the tests that use them (the others never touch either).
const FILES = { 'bench.sh': BENCH, 'forge.js': PACK_FORGER, 'src/v': '50\n', 'src/w': 'w\n', 'src/hook.sh': ':\n' };
function started(env: Record<string, string>): string {
  return fromTemplate(JSON.stringify(['started', env]), () => {
    const repo = makeRepo(FILES);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo, env);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--json'], repo, env).code).toBe(0);
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ verdict: 'keep' });
    return repo;
  });
}
const ALTERNATE = 'a="$PWD/.store"; node forge.js "$a" "$(git hash-object src/v)" "1000\n"; echo "$a" > .git/objects/info/alternates\n';

// The engine's checks of .git run after the benchmark, the same under every
// containment; what differs is how the benchmark's processes run. So every
// attack runs under the default (`readonly`, where .git is the one writable
// part of the repository's git state), and one attack per kind (a ref, a loose
// object, a pack, an unreadable git file, a stale lock) under the other two.
const EVERY_ATTACK = 'readonly';
for (const [mode, env] of Object.entries(CONTAINMENTS)) describe(`code under test forging through .git (${mode})`, () => {
  const every = mode === EVERY_ATTACK;
  const call = (repo: string, name: string, args: string[]) => engine(name, [...args, '--json'], repo, env).json as Record<string, unknown>;
  const iterate = (repo: string, d: string) => {
    call(repo, 'run-experiment', []);
    return call(repo, 'log-experiment', ['--description', d]);
  };

  it('a replacement ref the benchmark plants is ignored: the revert and finalize give the bytes measured', () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), PLANT);
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'replace', '-l')).not.toBe(''); // the attack took place
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'discard' });
    // The revert put back the kept bytes, not the planted ones.
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    const fin = engine('finalize', ['--branch', 'out', '--json'], repo, env);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, '-c', 'core.useReplaceRefs=false', 'show', 'out:src/v')).toBe('40');
  });

  it('a measured blob whose loose object the benchmark overwrote is made again from the tree; the run is invalid (loose-forged.ts)', () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), FORGE);
    const id = git(repo, 'hash-object', 'src/v');
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'invalid' });
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(iterate(repo, 'A again')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'discard' });
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
  });

  for (const [what, plant] of [
    ['a pack', PACK],
    ...(every ? [['an alternate object store', ALTERNATE]] : []),
  ]) it(`${what} the benchmark plants that maps a measured blob to other bytes is set aside: the run is invalid, git reads the bytes measured`, () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), plant as string);
    const id = git(repo, 'hash-object', 'src/v');
    const r = call(repo, 'run-experiment', []);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/objects in git's store that are not what their ids say/);
    expect(call(repo, 'log-experiment', ['--description', 'A'])).toMatchObject({ verdict: 'invalid' });
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    // The loop goes on, and a keep of those bytes holds them.
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(iterate(repo, 'A again')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'discard' });
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
  });

  for (const [what, attack, how = 'unreadable'] of (every ? [
    ['index', 'echo garbage > .git/index'],
    ['config', 'printf "[core\\n" >> .git/config'],
    ['HEAD', 'rm .git/HEAD; mkdir .git/HEAD'],
    ['refs/heads/autoloop/exp', 'echo garbage > .git/refs/heads/autoloop/exp'],
    ['packed-refs', 'git pack-refs --all; echo garbage >> .git/packed-refs'],
    // git config --list still reads these; every command that opens the repository fails.
    ['config', 'git config core.repositoryformatversion 99', 'with a repository format git does not know'],
    ['config', 'git config extensions.objectformat sha256; git config core.repositoryformatversion 1', 'with an object format of other objects'],
    ['config.worktree', 'git config extensions.worktreeConfig true; git config core.repositoryformatversion 1; printf "[core\\n" > .git/config.worktree', 'with a bad per-worktree config'],
  ] as const : [['index', 'echo garbage > .git/index']] as const)) it(`a benchmark that leaves git's ${what} ${how}: the run is invalid, the file put back, the loop goes on`, () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${attack}\n`);
    const r = call(repo, 'run-experiment', []);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(new RegExp(`left git's (.*, )?\\.git/${what}(,| unreadable)`));
    expect(call(repo, 'log-experiment', ['--description', 'A'])).toMatchObject({ verdict: 'invalid' });
    git(repo, 'status'); // git reads the repository again
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'keep' });
  });

  if (every) it('a directory the benchmark leaves at .git/index.lock is removed like a stale lock: the keep goes through', () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'mkdir -p .git/index.lock/x\n');
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(repo, '.git/index.lock'))).toBe(false);
  });

  for (const lock of every ? ['HEAD.lock', 'refs/heads/autoloop/exp.lock'] : ['HEAD.lock']) it(`a stale .git/${lock} the benchmark leaves is removed like a stale index.lock: later keeps go through`, () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `touch .git/${lock}\n`);
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'HEAD:src/v')).toBe('30');
    expect(fs.existsSync(path.join(repo, '.git', lock))).toBe(false);
  });

  if (every) it("git's info/attributes written by the benchmark (eol=crlf) makes the run invalid; repair moves it aside and the loop goes on", () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'echo "* eol=crlf" > .git/info/attributes\n');
    const log = iterate(repo, 'A');
    expect(log).toMatchObject({ verdict: 'invalid' });
    expect(String(log.reason)).toMatch(/git's attributes changed while the benchmark ran \(\.git\/info\/attributes\)/);
    // The revert of the invalid run wrote the kept bytes, not the planted rule's CRLF.
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('50\n');
    expect(engine('control', ['repair'], repo, env).code).toBe(0);
    expect(fs.existsSync(path.join(repo, '.git/info/attributes'))).toBe(false);
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'HEAD:src/v')).toBe('45');
  });
});

describe("attributes the code under test plants never convert what the engine restores", () => {
  const call = (repo: string, name: string, args: string[]) => engine(name, [...args, '--json'], repo).json as Record<string, unknown>;
  const iterate = (repo: string, d: string) => {
    call(repo, 'run-experiment', []);
    return call(repo, 'log-experiment', ['--description', d]);
  };

  it('an untracked .gitattributes the benchmark writes outside the scope (eol=crlf, ident): a later revert writes the bytes kept', () => {
    const repo = started({});
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/w'), '$Id$\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'printf "/src/* eol=crlf ident\\n" > .gitattributes\n');
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(repo, '.gitattributes'))).toBe(true); // the attack took place
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/w'), 'other\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'discard' });
    // What was measured and kept, byte for byte: no CRLF, no expanded $Id$.
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    expect(fs.readFileSync(path.join(repo, 'src/w'), 'utf8')).toBe('$Id$\n');
    expect(git(repo, 'status', '--porcelain', '--', 'src')).toBe('');
    // And the loop goes on from there.
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(iterate(repo, 'C')).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'cat-file', 'blob', 'HEAD:src/w')).toBe('$Id$');
  });

  it('core.autocrlf set by the benchmark: a later revert writes the bytes kept, and an edit of line ends alone is seen', () => {
    const repo = started({});
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'git config core.autocrlf true\n');
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'config', 'core.autocrlf')).toBe('true'); // the attack took place
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'discard' });
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    // Only the line end changed: measured with it, so kept with it.
    fs.writeFileSync(path.join(repo, 'src/v'), '30\r\n');
    expect(call(repo, 'run-experiment', [])).toMatchObject({ status: 'ok', files: ['src/v'] });
    expect(call(repo, 'log-experiment', ['--description', 'C'])).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'rev-parse', 'HEAD:src/v')).toBe(git(repo, 'hash-object', '--no-filters', 'src/v'));
  });
});

describe('ignore rules the code under test sets in git config never hide a measured file from the keep', () => {
  const call = (repo: string, name: string, args: string[]) => engine(name, [...args, '--json'], repo).json as Record<string, unknown>;

  it('a core.excludesFile the benchmark sets in .git/config: a new in-scope file it names is still captured, measured and kept', () => {
    const bench = '. ./src/hook.sh\nif [ -f src/extra ]; then echo METRIC score=1; else echo METRIC score=$(cat src/v); fi\n';
    const repo = makeRepo({ 'bench.sh': bench, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    call(repo, 'run-experiment', []);
    expect(call(repo, 'log-experiment', ['--description', 'baseline'])).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'git config core.excludesFile "$PWD/.git/planted"; echo src/extra > .git/planted\n');
    call(repo, 'run-experiment', []);
    call(repo, 'log-experiment', ['--description', 'plants the rule']);
    expect(git(repo, 'config', 'core.excludesFile')).toMatch(/planted$/); // the attack took place
    fs.writeFileSync(path.join(repo, 'src/extra'), 'x\n');
    expect(call(repo, 'run-experiment', [])).toMatchObject({ status: 'ok', primary: 1, files: expect.arrayContaining(['src/extra']) });
    expect(call(repo, 'log-experiment', ['--description', 'extra'])).toMatchObject({ verdict: 'keep' });
    // What scored 1 is what the branch holds.
    expect(git(repo, 'show', 'HEAD:src/extra')).toBe('x');
  });
});

describe('a benchmark that signals its own engine (the process-group fallback, where it can see it)', () => {
  const env = { AUTOLOOP_CONTAINMENT: 'group' };
  const call = (repo: string, name: string, args: string[]) => engine(name, [...args, '--json'], repo, env);
  // Up its own ancestry only (never another engine on the machine): SIGTERM to the run-experiment that started it.
  const KILL_ENGINE = `p=$$; while [ "$p" -gt 1 ]; do p=$(cut -d' ' -f4 /proc/$p/stat); if tr '\\0' ' ' < /proc/$p/cmdline | grep -q run-experiment; then kill -TERM "$p"; break; fi; done; sleep 2\n`;

  it('is interrupted once, then taken as the change\'s doing: invalid, reverted, and the loop goes on', () => {
    const repo = started(env);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), KILL_ENGINE);
    const first = call(repo, 'run-experiment', []);
    expect(first.code, first.stderr).toBe(130); // a signal is a signal: the user's Ctrl+C looks the same
    const second = call(repo, 'run-experiment', []);
    expect(second.json, second.stderr).toMatchObject({ status: 'invalid' });
    expect(String(second.json?.reason)).toMatch(/interrupted twice in a row while this same change ran/);
    expect(call(repo, 'log-experiment', ['--description', 'kills its engine']).json).toMatchObject({ verdict: 'invalid' });
    expect(fs.readFileSync(path.join(repo, 'src/hook.sh'), 'utf8')).toBe(':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(call(repo, 'run-experiment', []).json).toMatchObject({ status: 'ok' });
    expect(call(repo, 'log-experiment', ['--description', 'B']).json).toMatchObject({ verdict: 'keep' });
  });
});
