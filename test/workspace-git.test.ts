import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { openWorkspace } from '../scripts/lib/workspace.ts';
import { RefusalError, UsageError } from '../scripts/lib/errors.ts';
import type { ConfigInput } from '../scripts/lib/schema.ts';
import {
  cleanupTmp,
  commitFiles,
  exists,
  expPaths,
  git,
  makeConfig,
  makeDir,
  makeRepo,
  moduleUrl,
  porcelain,
  read,
  runChild,
  tmpDir,
  write,
} from './helpers/repo.ts';

afterAll(cleanupTmp);

// Where a revert moves what it takes away (a folder of its own per call).
const aside = () => tmpDir('autoloop-aside-');
const FILES = {
  'bench/run.sh': 'echo METRIC time_ms=1\n',
  'src/a.ts': 'export const a = 1;\n',
  'src/old.ts': 'old\n',
  'docs/readme.md': 'readme\n',
  'notes.txt': 'notes\n',
};

async function setup(over: Partial<ConfigInput> = {}, files: Record<string, string> = FILES, before?: (root: string) => void) {
  const root = makeRepo(files);
  before?.(root);
  const exp = expPaths(root, 'exp');
  const config = makeConfig({ scope: ['src/**'], ...over });
  const ws = await openWorkspace(root, exp, config);
  return { root, exp, config, ws };
}

const sha = (root: string, rev: string) => git(root, 'rev-parse', rev).trim();
const trailers = (run: string) => ({ 'Autoloop-Run': run, 'Autoloop-Metric': 'time_ms=12.3' });

describe('openWorkspace', () => {
  it('picks git mode at a work tree top level, snapshot mode without git', async () => {
    const { ws } = await setup();
    expect(ws.mode).toBe('git');
    const plain = makeDir({ 'src/a.ts': 'a' });
    expect((await openWorkspace(plain, expPaths(plain), makeConfig())).mode).toBe('snapshot');
  });

  it('refuses a subdirectory of a work tree', async () => {
    const root = makeRepo(FILES);
    const sub = path.join(root, 'src');
    await expect(openWorkspace(sub, expPaths(sub), makeConfig())).rejects.toThrow(UsageError);
    await expect(openWorkspace(sub, expPaths(sub), makeConfig())).rejects.toThrow(/top level/);
  });
});

describe('begin', () => {
  it('creates and checks out autoloop/<slug> from HEAD, excludes .autoloop/, records state', async () => {
    const { root, exp, ws } = await setup();
    const main = sha(root, 'main');
    const { base } = await ws.begin();
    expect(base).toBe(main);
    expect(git(root, 'symbolic-ref', 'HEAD').trim()).toBe('refs/heads/autoloop/exp');
    expect(await ws.head()).toBe(main);
    expect(fs.readFileSync(path.join(root, '.git/info/exclude'), 'utf8').split('\n')).toContain('.autoloop/');
    expect(Object.keys(porcelain(root)).filter((p) => p.startsWith('.autoloop'))).toEqual([]);
    expect(fs.existsSync(path.join(exp.dir, 'workspace.json'))).toBe(true);
    // The user's .gitignore is not touched.
    expect(exists(root, '.gitignore')).toBe(false);
  });

  it('is idempotent, and re-opening from another branch checks the experiment branch out again', async () => {
    const { root, ws } = await setup();
    const first = await ws.begin();
    write(root, 'src/a.ts', 'better\n');
    const kept = await ws.keep(['src/a.ts'], 'faster', trailers('r0001'));
    expect(await ws.begin()).toEqual({ base: kept });
    git(root, 'checkout', '-q', 'main');
    expect((await ws.begin()).base).toBe(kept);
    expect(git(root, 'symbolic-ref', 'HEAD').trim()).toBe('refs/heads/autoloop/exp');
    expect(first.base).toBe(sha(root, 'main'));
    const lines = fs.readFileSync(path.join(root, '.git/info/exclude'), 'utf8').split('\n');
    expect(lines.filter((l) => l === '.autoloop/')).toHaveLength(1);
  });

  it('refuses dirty in-scope tracked files, naming them, and allows dirty out-of-scope ones', async () => {
    const { root, ws } = await setup();
    write(root, 'src/a.ts', 'wip\n');
    write(root, 'docs/readme.md', 'user wip\n');
    await expect(ws.begin()).rejects.toThrow(UsageError);
    await expect(ws.begin()).rejects.toThrow(/src\/a\.ts/);
    expect(git(root, 'symbolic-ref', 'HEAD').trim()).toBe('refs/heads/main');
    git(root, 'checkout', '-q', '--', 'src/a.ts');
    await expect(ws.begin()).resolves.toEqual({ base: sha(root, 'main') });
    expect(read(root, 'docs/readme.md')).toBe('user wip\n');
  });

  it('refuses staged in-scope changes too', async () => {
    const { root, ws } = await setup();
    write(root, 'src/staged.ts', 'x\n');
    git(root, 'add', 'src/staged.ts');
    await expect(ws.begin()).rejects.toThrow(/src\/staged\.ts/);
  });

  it('refuses a repository without commits', async () => {
    const root = tmpDir();
    git(root, 'init', '-q', '-b', 'main');
    const ws = await openWorkspace(root, expPaths(root), makeConfig());
    await expect(ws.begin()).rejects.toThrow(/no commit/);
  });
});

describe('keep', () => {
  it('commits exactly the in-scope changed files, with trailers, and moves no other branch', async () => {
    const { root, ws } = await setup();
    const main = sha(root, 'main');
    await ws.begin();
    write(root, 'src/a.ts', 'export const a = 2;\n');
    write(root, 'src/new.ts', 'new\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    write(root, 'docs/readme.md', 'edited out of scope\n');
    const changed = await ws.changedInScope();
    expect(changed).toEqual(['src/a.ts', 'src/new.ts', 'src/old.ts']);
    const commit = await ws.keep(changed, 'r0001: unroll the loop', trailers('r0001'));
    expect(commit).toBe(sha(root, 'refs/heads/autoloop/exp'));
    expect(await ws.head()).toBe(commit);
    expect(commitFiles(root, commit)).toEqual(['src/a.ts', 'src/new.ts', 'src/old.ts']);
    const msg = git(root, 'log', '-1', '--format=%B', commit);
    expect(msg).toContain('r0001: unroll the loop');
    expect(msg).toContain('Autoloop-Run: r0001\n');
    expect(msg).toContain('Autoloop-Metric: time_ms=12.3\n');
    expect(msg).toContain('Autoloop-Experiment: exp\n');
    expect(git(root, 'show', `${commit}:src/a.ts`)).toBe('export const a = 2;\n');
    // The out-of-scope edit is neither committed nor reverted.
    expect(read(root, 'docs/readme.md')).toBe('edited out of scope\n');
    expect(porcelain(root)).toEqual({ 'docs/readme.md': ' M' });
    expect(await ws.changedInScope()).toEqual([]);
    write(root, 'src/a.ts', 'export const a = 3;\n');
    await ws.keep(['src/a.ts'], 'again', trailers('r0002'));
    expect(sha(root, 'main')).toBe(main);
  });

  it('leaves what the user staged out of scope staged and uncommitted', async () => {
    const { root, ws } = await setup({}, FILES, (r) => {
      write(r, 'notes.txt', 'user staged\n');
      git(r, 'add', 'notes.txt');
    });
    await ws.begin();
    write(root, 'src/a.ts', 'changed\n');
    const commit = await ws.keep(['src/a.ts'], 'keep', trailers('r0001'));
    expect(commitFiles(root, commit)).toEqual(['src/a.ts']);
    expect(git(root, 'show', `${commit}:notes.txt`)).toBe('notes\n');
    expect(porcelain(root)).toEqual({ 'notes.txt': 'M ' });
    expect(git(root, 'diff', '--cached', '--name-only').trim()).toBe('notes.txt');
  });

  it('never commits a user file, in scope or not, and refuses to be told to', async () => {
    const { root, ws } = await setup({}, FILES, (r) => {
      write(r, 'src/mine.local.ts', 'user scratch\n');
      write(r, 'scratch.txt', 'user scratch\n');
    });
    await ws.begin();
    write(root, 'src/a.ts', 'changed\n');
    expect(await ws.changedInScope()).toEqual(['src/a.ts']);
    const commit = await ws.keep(await ws.changedInScope(), 'keep', trailers('r0001'));
    expect(commitFiles(root, commit)).toEqual(['src/a.ts']);
    await expect(ws.keep(['src/mine.local.ts'], 'x', trailers('r0002'))).rejects.toThrow(/user file/);
    await expect(ws.keep(['docs/readme.md'], 'x', trailers('r0002'))).rejects.toThrow(/outside the scope/);
    await expect(ws.keep(['bench/run.sh'], 'x', trailers('r0002'))).rejects.toThrow(/outside the scope/);
    expect(porcelain(root)).toEqual({ 'scratch.txt': '??', 'src/mine.local.ts': '??' });
  });

  it('bypasses the user hooks and works with odd file names', async () => {
    const { root, ws } = await setup();
    write(root, '.git/hooks/pre-commit', '#!/bin/sh\nexit 1\n');
    write(root, '.git/hooks/post-commit', '#!/bin/sh\ntouch hook-ran\n');
    fs.chmodSync(path.join(root, '.git/hooks/pre-commit'), 0o755);
    fs.chmodSync(path.join(root, '.git/hooks/post-commit'), 0o755);
    await ws.begin();
    const names = ['src/with space.ts', 'src/ünïcødé ✓.ts', 'src/a*b.ts', 'src/:colon.ts', 'src/-dash.ts'];
    for (const n of names) write(root, n, `content of ${n}\n`);
    write(root, 'src/aXb.ts', 'matches a*b as a glob\n');
    const commit = await ws.keep(names, 'names', trailers('r0001'));
    expect(commitFiles(root, commit)).toEqual([...names].sort());
    expect(exists(root, 'hook-ran')).toBe(false);
    expect(await ws.changedInScope()).toEqual(['src/aXb.ts']);
    // Revert goes through pathspecs: they must be literal (`*` and `:` are just characters).
    for (const n of names) write(root, n, 'broken\n');
    fs.rmSync(path.join(root, 'src/ünïcødé ✓.ts'));
    expect((await ws.revert(aside())).files).toEqual([...names, 'src/aXb.ts'].sort());
    for (const n of names) expect(read(root, n)).toBe(`content of ${n}\n`);
    expect(porcelain(root)).toEqual({});
  });

  it('signs as autoloop when the user has no identity configured', async () => {
    const home = tmpDir();
    const { root, ws } = await setup();
    await ws.begin();
    git(root, 'config', '--unset', 'user.name');
    git(root, 'config', '--unset', 'user.email');
    git(root, 'config', 'user.useConfigOnly', 'true');
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
    process.env.HOME = home;
    process.env.XDG_CONFIG_HOME = home;
    try {
      write(root, 'src/a.ts', 'changed\n');
      const commit = await ws.keep(['src/a.ts'], 'keep', trailers('r0001'));
      expect(git(root, 'log', '-1', '--format=%an <%ae>', commit).trim()).toBe('autoloop <autoloop@localhost>');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('revert', () => {
  it('removes new in-scope files, restores modified and deleted ones, touches nothing else', async () => {
    const { root, ws } = await setup({}, FILES, (r) => {
      write(r, 'src/user-in-scope.ts', 'user file in scope\n');
      write(r, 'user-outside.txt', 'user file outside\n');
      write(r, 'docs/readme.md', 'user wip\n');
    });
    await ws.begin();
    write(root, 'src/a.ts', 'broken\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    write(root, 'src/new/deep/file.ts', 'new\n');
    write(root, 'src/staged-new.ts', 'staged by the agent\n');
    git(root, 'add', 'src/staged-new.ts');
    write(root, 'src/with space ü.ts', 'new\n');
    write(root, 'src/user-in-scope.ts', 'agent edited the user file\n');
    const victim = makeDir({ 'precious.txt': 'keep me' });
    fs.symlinkSync(path.join(victim, 'precious.txt'), path.join(root, 'src/evil-link'));

    const reverted = (await ws.revert(aside())).files;
    expect(reverted).toEqual(['src/a.ts', 'src/evil-link', 'src/new/deep/file.ts', 'src/old.ts', 'src/staged-new.ts', 'src/with space ü.ts']);
    expect(read(root, 'src/a.ts')).toBe(FILES['src/a.ts']);
    expect(read(root, 'src/old.ts')).toBe(FILES['src/old.ts']);
    expect(exists(root, 'src/new')).toBe(false);
    expect(exists(root, 'src/staged-new.ts')).toBe(false);
    expect(exists(root, 'src/with space ü.ts')).toBe(false);
    expect(exists(root, 'src/evil-link')).toBe(false);
    expect(read(victim, 'precious.txt')).toBe('keep me');
    // User files survive, untouched.
    expect(read(root, 'src/user-in-scope.ts')).toBe('agent edited the user file\n');
    expect(read(root, 'user-outside.txt')).toBe('user file outside\n');
    expect(read(root, 'docs/readme.md')).toBe('user wip\n');
    expect(fs.existsSync(path.join(root, '.autoloop/experiments/exp/workspace.json'))).toBe(true);
    expect(porcelain(root)).toEqual({ 'docs/readme.md': ' M', 'src/user-in-scope.ts': '??', 'user-outside.txt': '??' });
    expect((await ws.revert(aside())).files).toEqual([]);
  });

  it('restores to the latest keep, not to the start', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    write(root, 'src/a.ts', 'kept\n');
    await ws.keep(['src/a.ts'], 'keep', trailers('r0001'));
    write(root, 'src/a.ts', 'discarded\n');
    expect((await ws.revert(aside())).files).toEqual(['src/a.ts']);
    expect(read(root, 'src/a.ts')).toBe('kept\n');
  });

  it('undoes an agent `git rm --cached` of an in-scope file', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    git(root, 'rm', '-q', '--cached', 'src/a.ts');
    expect(await ws.changedInScope()).toEqual(['src/a.ts']);
    expect((await ws.revert(aside())).files).toEqual(['src/a.ts']);
    expect(porcelain(root)).toEqual({});
  });

  it('refuses to act when the work tree is not on the experiment branch', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    git(root, 'checkout', '-q', 'main');
    write(root, 'src/a.ts', 'on main\n');
    await expect(ws.revert(aside())).rejects.toThrow(RefusalError);
    await expect(ws.keep(['src/a.ts'], 'x', trailers('r0001'))).rejects.toThrow(/not autoloop\/exp/);
    expect(read(root, 'src/a.ts')).toBe('on main\n');
  });
});

const paths = (cs: readonly { path: string }[]) => cs.map((c) => c.path);

describe('outOfScopeChanges', () => {
  it('reports agent edits outside the scope, not the user work recorded at begin unless it changes', async () => {
    const { root, ws } = await setup({}, FILES, (r) => {
      write(r, 'docs/readme.md', 'user wip\n');
      write(r, 'src/user-in-scope.ts', 'user\n');
      write(r, 'scratch.txt', 'user\n');
    });
    await ws.begin();
    expect(paths(await ws.outOfScopeChanges())).toEqual([]);
    write(root, 'notes.txt', 'agent edit\n');
    write(root, 'conftest.py', 'planted\n');
    write(root, '.autoloop/experiments/exp/program.md', 'notes are fine');
    expect(await ws.outOfScopeChanges()).toEqual([
      { path: 'conftest.py', kind: 'created' },
      { path: 'notes.txt', kind: 'modified' },
    ]);
    write(root, 'docs/readme.md', 'user wip, changed by the agent\n');
    write(root, 'src/user-in-scope.ts', 'agent\n');
    fs.rmSync(path.join(root, 'scratch.txt'));
    expect(paths(await ws.outOfScopeChanges())).toEqual(['conftest.py', 'docs/readme.md', 'notes.txt', 'scratch.txt', 'src/user-in-scope.ts']);
    // Rewriting the same bytes is not a change.
    write(root, 'docs/readme.md', 'user wip\n');
    write(root, 'src/user-in-scope.ts', 'user\n');
    write(root, 'scratch.txt', 'user\n');
    expect(paths(await ws.outOfScopeChanges())).toEqual(['conftest.py', 'notes.txt']);
  });

  it('reports an edit to a protected file even when the scope is **', async () => {
    const { root, ws } = await setup({ scope: ['**'] });
    await ws.begin();
    write(root, 'bench/run.sh', 'echo METRIC time_ms=0\n');
    expect(paths(await ws.outOfScopeChanges())).toEqual(['bench/run.sh']);
    expect(await ws.changedInScope()).toEqual([]);
  });

  it('reports the user work in progress being undone', async () => {
    const { root, ws } = await setup({}, FILES, (r) => write(r, 'docs/readme.md', 'user wip\n'));
    await ws.begin();
    git(root, 'checkout', '-q', '--', 'docs/readme.md');
    expect(paths(await ws.outOfScopeChanges())).toEqual(['docs/readme.md']);
  });

  it('settleOutOfScope accepts what the benchmark wrote', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    write(root, 'results.csv', 'written by the benchmark\n');
    expect(paths(await ws.settleOutOfScope())).toEqual(['results.csv']);
    expect(paths(await ws.outOfScopeChanges())).toEqual([]);
    write(root, 'results.csv', 'changed again\n');
    expect(paths(await ws.outOfScopeChanges())).toEqual(['results.csv']);
  });
});

describe('findKeep', () => {
  it('finds the commit of a run by its trailer, exactly', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    write(root, 'src/a.ts', '1\n');
    const c1 = await ws.keep(['src/a.ts'], 'one', trailers('r0001'));
    write(root, 'src/a.ts', '2\n');
    const c2 = await ws.keep(['src/a.ts'], 'two', trailers('r00011'));
    expect(await ws.findKeep('r0001')).toBe(c1);
    expect(await ws.findKeep('r00011')).toBe(c2);
    expect(await ws.findKeep('r0002')).toBeNull();
  });

  it("does not mistake a parent experiment's commit for a child's", async () => {
    const { root, ws } = await setup();
    await ws.begin();
    write(root, 'src/a.ts', 'parent\n');
    await ws.keep(['src/a.ts'], 'parent keep', trailers('r0001'));
    const child = await openWorkspace(root, expPaths(root, 'child'), makeConfig({ name: 'child', scope: ['src/**'] }));
    await child.begin();
    expect(git(root, 'symbolic-ref', 'HEAD').trim()).toBe('refs/heads/autoloop/child');
    expect(await child.findKeep('r0001')).toBeNull();
    write(root, 'src/a.ts', 'child\n');
    const c = await child.keep(['src/a.ts'], 'child keep', trailers('r0001'));
    expect(await child.findKeep('r0001')).toBe(c);
  });
});

describe('diffSummary', () => {
  it("is '' when clean, a bounded diff of the in-scope changes otherwise", async () => {
    const { root, ws } = await setup();
    await ws.begin();
    expect(await ws.diffSummary()).toBe('');
    write(root, 'src/a.ts', 'export const a = 42;\n');
    write(root, 'src/new.ts', 'brand new\n');
    write(root, 'docs/readme.md', 'out of scope\n');
    const d = await ws.diffSummary();
    expect(d).toContain('M src/a.ts');
    expect(d).toContain('A src/new.ts');
    expect(d).toContain('+export const a = 42;');
    expect(d).toContain('-export const a = 1;');
    expect(d).toContain('+brand new');
    expect(d).not.toContain('out of scope');
    write(root, 'src/big.ts', 'x'.repeat(100) + '\n'.repeat(1) + 'ü'.repeat(5000));
    const big = await ws.diffSummary();
    expect(Buffer.byteLength(big)).toBeLessThanOrEqual(4096);
    expect(big).toContain('truncated');
  });

  it("never runs a diff driver's textconv program (a user program on the engine's git command)", async () => {
    const { root, ws } = await setup();
    await ws.begin();
    const marker = path.join(root, '..', `textconv-ran-${path.basename(root)}`);
    fs.writeFileSync(path.join(root, '.git', 'info', 'attributes'), '*.ts diff=conv\n');
    git(root, 'config', 'diff.conv.textconv', `sh -c 'touch "$0"; cat "$1"' ${marker}`);
    write(root, 'src/a.ts', 'export const a = 7;\n');
    // The same diff as git's own, without the driver: the raw lines.
    expect(await ws.diffSummary()).toContain('+export const a = 7;');
    expect(fs.existsSync(marker)).toBe(false);
    // The driver works when git runs it for the user (the test can fail).
    git(root, 'diff', 'HEAD', '--', 'src/a.ts');
    expect(fs.existsSync(marker)).toBe(true);
  });
});

describe('crashes in the middle of a keep', () => {
  const WS = moduleUrl('scripts/lib/workspace.ts');
  const PATHS = moduleUrl('scripts/lib/paths.ts');
  const SCHEMA = moduleUrl('scripts/lib/schema.ts');
  const keepInChild = (root: string) => `
    const { openWorkspace } = await import(${JSON.stringify(WS)});
    const { experimentPaths } = await import(${JSON.stringify(PATHS)});
    const { Config } = await import(${JSON.stringify(SCHEMA)});
    const config = Config.parse({ name: 'exp', metric: 'time_ms', direction: 'lower', command: 'bash bench/run.sh', scope: ['src/**'] });
    const ws = await openWorkspace(${JSON.stringify(root)}, experimentPaths(${JSON.stringify(root)}, 'exp'), config);
    await ws.keep(['src/a.ts', 'src/new.ts'], 'crashy', { 'Autoloop-Run': 'r0001' });
    process.stdout.write('survived');
  `;

  async function crashAt(point: string) {
    const { root, ws } = await setup();
    const { base } = await ws.begin();
    write(root, 'src/a.ts', 'candidate\n');
    write(root, 'src/new.ts', 'candidate\n');
    const r = await runChild(keepInChild(root), { AUTOLOOP_CRASH_AT: point });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    return { root, ws, base };
  }

  it('killed before the branch moved: no keep is found, the best is intact, revert works', async () => {
    const { root, ws, base } = await crashAt('git:committed');
    expect(await ws.head()).toBe(base);
    expect(await ws.findKeep('r0001')).toBeNull();
    expect((await ws.revert(aside())).files).toEqual(['src/a.ts', 'src/new.ts']);
    expect(read(root, 'src/a.ts')).toBe(FILES['src/a.ts']);
    expect(porcelain(root)).toEqual({});
    expect(fs.readdirSync(path.join(root, '.autoloop/experiments/exp')).filter((n) => n.includes('index'))).toEqual([]);
  });

  it('killed after the branch moved: findKeep finds the commit and the tree settles on it', async () => {
    const { root, ws, base } = await crashAt('git:ref-updated');
    const head = await ws.head();
    expect(head).not.toBe(base);
    expect(await ws.findKeep('r0001')).toBe(head);
    expect(commitFiles(root, head)).toEqual(['src/a.ts', 'src/new.ts']);
    await ws.revert(aside());
    expect(read(root, 'src/a.ts')).toBe('candidate\n');
    expect(read(root, 'src/new.ts')).toBe('candidate\n');
    expect(porcelain(root)).toEqual({});
  });
});
