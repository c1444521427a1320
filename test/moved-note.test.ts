// What control repair set aside from a hand commit, and the printed way back: run as printed, in a real repository.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { movedNoteOf, shellWord } from '../scripts/lib/moved-note.ts';
import { git, makeRepo } from './helpers/engine.ts';

const sh = (cwd: string, cmd: string) => spawnSync('sh', ['-c', cmd], { cwd, encoding: 'utf8' });

describe('movedNoteOf', () => {
  it('names the first files of many and a deletion; its command brings every file back as committed', () => {
    const repo = makeRepo({ 'keep.txt': 'k\n', 'old.txt': 'old\n' });
    const kept = git(repo, 'rev-parse', 'HEAD');
    const names = ['a.txt', 'b.txt', "it's.txt", 'd/e f.txt', 'g.txt', 'h.txt', 'i.txt'];
    for (const n of names) {
      fs.mkdirSync(path.dirname(path.join(repo, n)), { recursive: true });
      fs.writeFileSync(path.join(repo, n), `${n}\u0000\r\n`);
    }
    git(repo, 'rm', '-q', 'old.txt');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'by hand');
    const saved = 'refs/autoloop/moved/x/1';
    git(repo, 'update-ref', saved, 'HEAD');
    git(repo, 'reset', '-q', '--hard', kept);
    return movedNoteOf(repo, kept, saved).then((note) => {
      expect(note).toContain("set aside from the tree (kept in that ref): a.txt, b.txt, d/e f.txt, g.txt, h.txt, … (7 in all)");
      expect(note).toContain('the moved commits also deleted old.txt');
      const cmd = /to get them back: ([^;]+)/.exec(note)?.[1] as string;
      expect(sh(repo, cmd).status).toBe(0);
      for (const n of names) expect(fs.readFileSync(path.join(repo, n), 'utf8')).toBe(`${n}\u0000\r\n`);
    });
  });

  it('says nothing when the moved commits changed no file', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'empty');
    expect(await movedNoteOf(repo, git(repo, 'rev-parse', 'HEAD~1'), 'HEAD')).toBe('');
  });
});

describe('shellWord', () => {
  it('quotes what a shell would split or expand, so that printf prints the name back', () => {
    for (const name of ["it's here.txt", '$HOME*.txt', 'plain/path-1.txt']) {
      expect(sh('/', `printf %s ${shellWord(name)}`).stdout).toBe(name);
    }
  });
});
