import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { compileScope, listFiles, normalizeRel } from '../scripts/lib/scope.ts';
import { cleanupTmp, makeDir, write } from './helpers/repo.ts';

afterAll(cleanupTmp);

describe('compileScope', () => {
  it('matches globs with dotfiles', () => {
    const s = compileScope(['src/**/*.ts'], []);
    expect(s.inScope('src/a.ts')).toBe(true);
    expect(s.inScope('src/deep/.hidden.ts')).toBe(true);
    expect(s.inScope('src/a.js')).toBe(false);
    expect(s.inScope('lib/a.ts')).toBe(false);
  });

  it('never puts .autoloop/ or .git/ in scope, even with **', () => {
    const s = compileScope(['**'], []);
    expect(s.inScope('anything/at/all.txt')).toBe(true);
    expect(s.inScope('.autoloop/experiments/x/ledger.jsonl')).toBe(false);
    expect(s.inScope('.autoloop')).toBe(false);
    expect(s.inScope('.git/config')).toBe(false);
    expect(s.inScope('vendor/sub/.git/HEAD')).toBe(false);
    // Only the root .autoloop is autoloop's.
    expect(s.inScope('docs/.autoloop/x')).toBe(true);
  });

  it('keeps protected files out of scope, exact names included', () => {
    const s = compileScope(['**'], ['bench/**', 'weird[1].sh']);
    expect(s.isProtected('bench/run.sh')).toBe(true);
    expect(s.inScope('bench/run.sh')).toBe(false);
    expect(s.isProtected('weird[1].sh')).toBe(true);
    expect(s.inScope('weird[1].sh')).toBe(false);
    expect(s.inScope('src/main.c')).toBe(true);
    expect(s.isProtected('src/main.c')).toBe(false);
  });

  it('treats a plain directory name as everything below it, and ! as an exclusion', () => {
    const s = compileScope(['src', '!src/generated/**'], []);
    expect(s.inScope('src/a.ts')).toBe(true);
    expect(s.inScope('src/generated/x.ts')).toBe(false);
    expect(s.inScope('srcx/a.ts')).toBe(false);
    const t = compileScope(['lib/'], []);
    expect(t.inScope('lib/x/y.py')).toBe(true);
  });

  it('rejects paths that are not repo-relative', () => {
    const s = compileScope(['**'], []);
    expect(s.inScope('../outside.txt')).toBe(false);
    expect(s.inScope('/etc/passwd')).toBe(false);
    expect(s.inScope('')).toBe(false);
    expect(s.inScope('./src/a.ts')).toBe(true);
    expect(normalizeRel('a//b/')).toBe('a/b');
  });

  it('computes walk bases so unrelated trees are skipped', () => {
    expect(compileScope(['src/**/*.ts', 'src/x/**', 'lib'], []).bases.sort()).toEqual(['lib', 'src']);
    expect(compileScope(['**/*.ts'], []).bases).toEqual(['']);
  });
});

describe('listFiles', () => {
  it('lists in-scope files under the bases, without .git or .autoloop, not following symlinks', () => {
    const root = makeDir({
      'src/a.ts': 'a',
      'src/sub/b.ts': 'b',
      'src/skip.js': 'c',
      'other/c.ts': 'd',
      '.autoloop/x.ts': 'e',
      '.git/y.ts': 'f',
    });
    const outside = makeDir({ 'secret.ts': 's' });
    fs.symlinkSync(outside, path.join(root, 'src/linkdir'));
    write(root, 'src/with space/ü.ts', 'u');
    const s = compileScope(['src/**/*.ts'], []);
    expect(listFiles(root, s.bases, (r) => s.inScope(r))).toEqual(['src/a.ts', 'src/sub/b.ts', 'src/with space/ü.ts']);
    const all = compileScope(['**'], []);
    expect(listFiles(root, all.bases, (r) => all.inScope(r))).toEqual([
      'other/c.ts',
      'src/a.ts',
      'src/linkdir',
      'src/skip.js',
      'src/sub/b.ts',
      'src/with space/ü.ts',
    ]);
  });
});
