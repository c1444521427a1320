// The engine asks `git config` about filter drivers and diff settings only when a
// config file git reads mentions them (git-config-files.ts): these cases hold the
// shortcut to git's own answer, with real repositories, real config files and real git.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onPath } from '../scripts/lib/git-binary.ts';
import { configFiles, configText, mayMention } from '../scripts/lib/git-config-files.ts';
import { configIdent } from '../scripts/lib/commit-ident.ts';
import { ASKED, gitTry } from '../scripts/lib/gitcmd.ts';

const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-gitconfig-')));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A repository and a home of its own (no XDG directory: git then reads ~/.config/git/config). */
function setup(): { repo: string; env: NodeJS.ProcessEnv } {
  const base = path.join(dir, `c${n++}`);
  const repo = path.join(base, 'repo');
  const home = path.join(base, 'home');
  fs.mkdirSync(repo, { recursive: true });
  fs.mkdirSync(home);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
  git(repo, env, 'init', '-q');
  return { repo, env };
}

function git(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): { code: number; out: string } {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout };
}

/** What git itself finds for the engine's question (exit 1: nothing). */
const gitFinds = (repo: string, env: NodeJS.ProcessEnv) => git(repo, env, 'config', '--name-only', '--get-regexp', '^(filter\\.|merge\\..+\\.driver$|core\\.attributesfile$|core\\.bigfilethreshold$)');
const shortcut = (repo: string, env: NodeJS.ProcessEnv) => mayMention(configFiles(repo, env)!, ASKED);

describe('the config files git reads, without git', () => {
  it('a plain repository: nothing mentioned, and git agrees there is nothing', () => {
    const { repo, env } = setup();
    expect(configFiles(repo, env)).toContain(path.join(repo, '.git', 'config'));
    expect(shortcut(repo, env)).toBe(false);
    expect(gitFinds(repo, env).code).toBe(1);
  });

  it('a filter in the repository, the user or the XDG config, or a threshold: mentioned (git finds each)', () => {
    const cases: [string, (repo: string, home: string) => void][] = [
      ['repo', (repo) => fs.appendFileSync(path.join(repo, '.git', 'config'), '[filter "lfs"]\n\tclean = x\n')],
      ['user', (_, home) => fs.writeFileSync(path.join(home, '.gitconfig'), '[Filter "crypt"]\n\tsmudge = y\n')],
      ['xdg', (_, home) => (fs.mkdirSync(path.join(home, '.config', 'git'), { recursive: true }), fs.writeFileSync(path.join(home, '.config', 'git', 'config'), '[core]\n\tattributesFile = /tmp/a\n'))],
      ['threshold', (repo) => fs.appendFileSync(path.join(repo, '.git', 'config'), '[core]\n\tbigFileThreshold = 1k\n')],
    ];
    for (const [name, write] of cases) {
      const { repo, env } = setup();
      write(repo, env.HOME!);
      expect({ name, git: gitFinds(repo, env).code }).toEqual({ name, git: 0 });
      expect({ name, shortcut: shortcut(repo, env) }).toEqual({ name, shortcut: true });
    }
  });

  it('an include (which may bring in any file) counts as a mention, as does a config file that cannot be read', () => {
    const { repo, env } = setup();
    const other = path.join(env.HOME!, 'more.conf');
    fs.writeFileSync(other, '[filter "lfs"]\n\tclean = x\n');
    fs.writeFileSync(path.join(env.HOME!, '.gitconfig'), `[include]\n\tpath = ${other}\n`);
    expect(gitFinds(repo, env).code).toBe(0);
    expect(shortcut(repo, env)).toBe(true);
    const b = setup();
    fs.mkdirSync(path.join(b.env.HOME!, '.gitconfig')); // there, but no file to read
    expect(shortcut(b.repo, b.env)).toBe(true);
  });

  it("a linked worktree: the shared config and the worktree's own are read", () => {
    const { repo, env } = setup();
    fs.writeFileSync(path.join(repo, 'a'), 'a');
    git(repo, { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' }, 'add', 'a');
    expect(git(repo, { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' }, 'commit', '-qm', 'a').code).toBe(0);
    const wt = path.join(path.dirname(repo), 'wt');
    expect(git(repo, env, 'worktree', 'add', '-q', wt).code).toBe(0);
    const files = configFiles(wt, env)!;
    expect(files).toContain(path.join(repo, '.git', 'config'));
    expect(files).toContain(path.join(repo, '.git', 'worktrees', 'wt', 'config.worktree'));
    expect(shortcut(wt, env)).toBe(false);
    git(repo, env, 'config', 'filter.x.clean', 'cat');
    expect(gitFinds(wt, env).code).toBe(0);
    expect(shortcut(wt, env)).toBe(true);
  });

  it('one reader for every caller: a missing file is skipped, one there but unreadable is a doubt', () => {
    const { repo, env } = setup();
    const home = env.HOME!;
    const user = path.join(home, '.gitconfig');
    fs.appendFileSync(path.join(repo, '.git', 'config'), '[user]\n\tname = Ada\n\temail = ada@example.invalid\n');
    fs.writeFileSync(path.join(home, 'plain'), '[core]\n');
    expect(configText(path.join(home, 'plain'))).toEqual({ text: '[core]\n' });
    expect(configText(user)).toBe('missing');
    expect(configText(path.join(home, 'plain', 'config'))).toBe('missing'); // a file in the way of its folder (ENOTDIR)
    const files = configFiles(repo, env)!;
    const ident = () => configIdent(files, path.join(repo, '.git', 'config'), path.join(repo, '.git', 'config.worktree'), env);
    expect(ident()).toEqual({ name: 'Ada', email: 'ada@example.invalid' });
    fs.mkdirSync(user); // there, but no file to read: git's reading of it cannot be told
    expect(configText(user)).toBe('unreadable');
    expect(ident()).toBeNull();
    expect(mayMention(files, /nothing-here/)).toBe(true);
  });

  it('not the top of a work tree: no answer (the engine asks git)', () => {
    const { repo, env } = setup();
    fs.mkdirSync(path.join(repo, 'sub'));
    expect(configFiles(path.join(repo, 'sub'), env)).toBeNull();
  });
});

describe('git found on PATH as execvp finds it', () => {
  it('skips what is not an executable file, stops at a relative entry', () => {
    const base = path.join(dir, 'path');
    const [a, b, c] = ['a', 'b', 'c'].map((x) => path.join(base, x));
    fs.mkdirSync(path.join(a!, 'tool'), { recursive: true }); // a directory by that name
    fs.mkdirSync(b!);
    fs.writeFileSync(path.join(b!, 'tool'), '#!/bin/sh\n', { mode: 0o644 }); // not executable
    fs.mkdirSync(c!);
    fs.writeFileSync(path.join(c!, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    expect(onPath('tool', [a, b, c].join(':'))).toBe(path.join(c!, 'tool'));
    expect(onPath('tool', [a, 'rel', c].join(':'))).toBeNull();
    expect(onPath('tool', ['', c].join(':'))).toBeNull();
    expect(onPath('tool', a!)).toBeNull();
  });
});

describe("the engine's git runs no program the repository's config names", () => {
  it('a clean filter and a merge driver written into .git/config between two engine git commands (as code under test can) do not run', async () => {
    const { repo, env } = setup();
    const id = { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x.invalid' };
    const commit = (text: string) => {
      fs.writeFileSync(path.join(repo, 'f'), text);
      git(repo, id, 'commit', '-qam', text.trim());
    };
    fs.writeFileSync(path.join(repo, 'f'), 'a\nb\nc\n');
    git(repo, id, 'add', 'f');
    git(repo, id, 'commit', '-qm', 'init');
    git(repo, id, 'branch', '-M', 'main');
    git(repo, id, 'checkout', '-qb', 'x');
    commit('A\nb\nc\n');
    git(repo, id, 'checkout', '-q', 'main');
    commit('a\nb\nC\n');
    // The engine's first git command of the call: the config read (nothing to switch off yet).
    expect((await gitTry(repo, ['status', '--porcelain'])).code).toBe(0);
    const marker = path.join(repo, '..', 'ran');
    git(repo, env, 'config', 'filter.evil.clean', `sh -c 'echo filter >> ${marker}; cat'`);
    git(repo, env, 'config', 'merge.evil.driver', `sh -c 'echo merge >> ${marker}' --`);
    fs.writeFileSync(path.join(repo, '.git', 'info', 'attributes'), '* filter=evil merge=evil\n');
    fs.writeFileSync(path.join(repo, 'f'), 'a\nb\nC\n'); // stat-dirty: status hashes it again
    expect((await gitTry(repo, ['status', '--porcelain'])).code).toBe(0);
    const merged = await gitTry(repo, ['merge-tree', '--write-tree', '--no-messages', 'main', 'x']);
    expect(merged.code).not.toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
    // Without the engine's options git runs both.
    git(repo, env, 'merge-tree', '--write-tree', '--no-messages', 'main', 'x');
    expect(fs.readFileSync(marker, 'utf8')).toMatch(/merge/);
  });
});
