// Net lines removed counted in the engine (numstat.ts, git-workspace.ts) must be
// what `git diff --numstat HEAD` sums to, and git must still be asked where an
// attributes file could change the count.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { numstatNet } from '../scripts/lib/numstat.ts';
import { openWorkspace } from '../scripts/lib/workspace.ts';
import { cleanupTmp, expPaths, git, makeConfig, makeRepo, write } from './helpers/repo.ts';

afterAll(cleanupTmp);

/** removed − added over the paths, as git prints them. */
function gitNet(root: string, paths: string[]): number {
  let net = 0;
  for (const rec of git(root, 'diff', '--numstat', '-z', 'HEAD', '--', ...paths).split('\0')) {
    const m = /^(\d+)\t(\d+)\t/.exec(rec);
    if (m) net += Number(m[2]) - Number(m[1]);
  }
  return net;
}

const PAIRS: [string, string, string | null][] = [
  ['more lines', 'a\nb\n', 'a\nb\nc\nd\n'],
  ['fewer lines', 'a\nb\nc\nd\ne\n', 'a\ne\n'],
  ['no newline at the end, then one', 'a\nb', 'a\nb\n'],
  ['newline at the end taken away', 'a\nb\n', 'a\nb'],
  ['CRLF', 'a\r\nb\r\nc\r\n', 'a\r\nc\r\n'],
  ['reordered', 'one\ntwo\nthree\n', 'three\ntwo\none\nfour\n'],
  ['emptied', 'x\ny\n', ''],
  ['deleted', 'x\ny\nz\n', null],
  ['binary after', 'text\n', 'bin\0ary\nmore\n'],
  ['binary before', 'bin\0\n\n\n', 'now text\n'],
];

describe('net lines removed without git', () => {
  it('numstatNet is what git diff --numstat sums to, pair by pair', () => {
    const files = Object.fromEntries(PAIRS.map(([, before], i) => [`src/f${i}.txt`, before] as const));
    const root = makeRepo(files);
    PAIRS.forEach(([name, before, after], i) => {
      const rel = `src/f${i}.txt`;
      if (after === null) fs.rmSync(path.join(root, rel));
      else write(root, rel, after);
      expect(numstatNet(Buffer.from(before), after === null ? null : Buffer.from(after)), name).toBe(gitNet(root, [rel]));
    });
  });

  it("the workspace's count equals git's, with an attributes file (git asked) and without", async () => {
    for (const attributes of [false, true]) {
      const files: Record<string, string> = { 'src/a.txt': 'a\nb\nc\n', 'src/deep/b.txt': 'x\n', 'src/c.txt': 'keep\nme\n' };
      const root = makeRepo(files);
      const config = makeConfig({ scope: ['src/**'] });
      const ws = await openWorkspace(root, expPaths(root, 'exp'), config);
      await ws.begin();
      // Marked binary by an attribute: numstat prints "-" for it, so it counts 0 only where git is asked.
      if (attributes) fs.writeFileSync(path.join(root, '.git', 'info', 'attributes'), 'c.txt -diff\n');
      write(root, 'src/a.txt', 'a\n');
      write(root, 'src/deep/b.txt', 'x\ny\nz\n');
      write(root, 'src/c.txt', 'keep\n');
      write(root, 'src/new.txt', 'n\nn\n');
      const changed = await ws.changedInScope();
      expect(changed).toEqual(['src/a.txt', 'src/c.txt', 'src/deep/b.txt', 'src/new.txt']);
      const want = gitNet(root, ['src/a.txt', 'src/c.txt', 'src/deep/b.txt']) - 2;
      expect(want).toBe(attributes ? 0 - 2 : 1 - 2);
      expect(await ws.netLinesRemoved(changed)).toBe(want);
    }
  });
});
