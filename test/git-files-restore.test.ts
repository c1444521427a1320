// The git files a phase of the code under test left unreadable are put back
// (git-files-guard.ts). A restored index must not hide an edit: git trusts an
// entry whose stat matches its file unless the entry is as new as the index
// file itself ("racy git"), so the index must come back with its old time.
// Real repositories, real git.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepGitFiles, restoreDamagedGitFiles } from '../scripts/lib/git-files-guard.ts';
import { git, makeRepo } from './helpers/engine.ts';

const second = (f: string): number => Math.floor(fs.statSync(f).mtimeMs / 1000);

describe('a restored index', () => {
  it('still shows a same-size edit made in the second its entry was written', async () => {
    // Set up the racy case for real: the file rewritten with the same size within the second git
    // recorded it in (and the index written in that second). A second boundary crossed: again.
    let repo = '';
    for (let i = 0; ; i++) {
      repo = makeRepo({ v: '50\n' });
      const index = path.join(repo, '.git', 'index');
      fs.writeFileSync(path.join(repo, 'v'), '40\n');
      if (second(path.join(repo, 'v')) === second(index)) break;
      expect(i, 'could not write the file within the second of its index entry').toBeLessThan(50);
    }
    // No git command in between: one would refresh the index (git itself handles the racy entry).
    const kept = keepGitFiles(repo, null);
    expect(kept).not.toBeNull();
    // Later than the entry's second: a restored index written now would be newer than the entry.
    await new Promise((r) => setTimeout(r, 1100));
    fs.writeFileSync(path.join(repo, '.git', 'index'), 'garbage\n');
    expect(await restoreDamagedGitFiles(kept!)).toEqual(['.git/index']);
    expect(git(repo, 'status', '--porcelain')).toBe('M v');
    expect(git(repo, 'diff', '--stat').trim()).toMatch(/^v \| 2/);
  });
});
