// The in-process reader of git's index flags (index-flags.ts) against git's own
// answer (`git ls-files -v`), on index files real git wrote: versions 2, 3 and
// 4, names with newlines, unicode and lengths around the 8-byte padding.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { flaggedEntries, indexEntries, parseLsFilesV } from '../scripts/lib/index-flags.ts';
import { git, makeRepo } from './helpers/engine.ts';

const NAMES = ['a', 'bb/c.txt', 'src/with\nnewline', 'src/ünïcode ✓.txt', 'src/' + 'x'.repeat(13), 'src/' + 'y'.repeat(14), 'src/' + 'z'.repeat(200), 'src/q"uote\'s'];

function flaggedRepo(): string {
  const repo = makeRepo(Object.fromEntries(NAMES.map((n) => [n, n])));
  git(repo, 'update-index', '--assume-unchanged', '--', NAMES[2] as string, NAMES[6] as string);
  git(repo, 'update-index', '--skip-worktree', '--', NAMES[3] as string, NAMES[5] as string);
  git(repo, 'update-index', '--assume-unchanged', '--', NAMES[5] as string);
  return repo;
}

const byGit = (repo: string) => parseLsFilesV(git(repo, 'ls-files', '-v', '-z') + '\0');
const byReader = (repo: string) => flaggedEntries(fs.readFileSync(path.join(repo, '.git', 'index')), 20);

describe('index flags read in process', () => {
  for (const version of ['2', '3', '4']) {
    it(`finds what git ls-files -v finds (index version ${version})`, () => {
      const repo = flaggedRepo();
      // Version 2 cannot hold skip-worktree: git keeps 3 while an entry has it.
      git(repo, 'update-index', '--index-version', version);
      const want = byGit(repo);
      expect(want.map((e) => e.path).sort()).toEqual([NAMES[2], NAMES[3], NAMES[5], NAMES[6]].sort());
      expect(byReader(repo)).toEqual(want);
      // Every entry's blob id and mode, as git ls-files -s gives them.
      const staged = git(repo, 'ls-files', '-s', '-z').split('\0').filter(Boolean).map((r) => {
        const [meta = '', p = ''] = r.split('\t');
        const [mode = '', id = ''] = meta.split(' ');
        return { path: p, id, mode: Number.parseInt(mode, 8) };
      });
      const mine = indexEntries(fs.readFileSync(path.join(repo, '.git', 'index')), 20);
      expect(mine?.map(({ path: p, id, mode }) => ({ path: p, id, mode }))).toEqual(staged);
    });
  }

  it('no flags: an empty list', () => {
    const repo = makeRepo({ 'a.txt': 'a', 'b/c.txt': 'c' });
    expect(byReader(repo)).toEqual([]);
  });

  it('a split index (entries in a shared file) is not read in process: git is asked', () => {
    const repo = flaggedRepo();
    git(repo, 'update-index', '--split-index');
    expect(byReader(repo)).toBeNull();
  });

  it('a file that is not an index is not read', () => {
    expect(flaggedEntries(Buffer.from('not an index at all'), 20)).toBeNull();
  });
});
