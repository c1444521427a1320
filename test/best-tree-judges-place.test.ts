// placeJudges (best-tree-judges.ts) on real folders: which judges the best's
// tree gets as copies and which stay reached through the link to the user's
// untracked folder (a data set over 1 MiB is not copied at every new best).
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { placeJudges } from '../scripts/lib/best-tree-judges.ts';
import { sha256File } from '../scripts/lib/integrity.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-place-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The user's tree with an untracked data/ folder, and the best's tree linking it whole (as linkUntracked does). */
function trees(name: string, files: Record<string, number>) {
  const root = path.join(tmp, name, 'root');
  const dir = path.join(tmp, name, 'best');
  fs.mkdirSync(path.join(root, 'data'), { recursive: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, size] of Object.entries(files)) fs.writeFileSync(path.join(root, rel), Buffer.alloc(size, 7));
  fs.symlinkSync(path.join(root, 'data'), path.join(dir, 'data'));
  const judges = Object.fromEntries(Object.keys(files).map((rel) => [rel, sha256File(path.join(root, rel))!]));
  return { root, dir, judges };
}

describe('placeJudges and a judge in a linked untracked folder', () => {
  it('leaves a judge over 1 MiB reached through the link as it is (no copy, the link kept)', () => {
    const { root, dir, judges } = trees('big', { 'data/set.bin': 2 << 20 });
    placeJudges(root, dir, judges);
    expect(fs.lstatSync(path.join(dir, 'data')).isSymbolicLink()).toBe(true);
    expect(fs.realpathSync(path.join(dir, 'data/set.bin'))).toBe(fs.realpathSync(path.join(root, 'data/set.bin')));
  });

  it('copies a small judge there as a file of its own, the rest of the folder still reached by links', () => {
    const { root, dir, judges } = trees('small', { 'data/score.py': 100 });
    fs.writeFileSync(path.join(root, 'data/other.txt'), 'x');
    placeJudges(root, dir, judges);
    expect(fs.lstatSync(path.join(dir, 'data')).isDirectory()).toBe(true);
    expect(fs.lstatSync(path.join(dir, 'data/score.py')).isFile()).toBe(true);
    expect(sha256File(path.join(dir, 'data/score.py'))).toBe(judges['data/score.py']);
    expect(fs.lstatSync(path.join(dir, 'data/other.txt')).isSymbolicLink()).toBe(true);
  });

  it('copies a judge over 1 MiB that the tree does not reach (absent there)', () => {
    const { root, dir, judges } = trees('unreached', { 'data/set.bin': 2 << 20 });
    fs.unlinkSync(path.join(dir, 'data'));
    placeJudges(root, dir, judges);
    expect(fs.lstatSync(path.join(dir, 'data/set.bin')).isFile()).toBe(true);
    expect(sha256File(path.join(dir, 'data/set.bin'))).toBe(judges['data/set.bin']);
  });
});
