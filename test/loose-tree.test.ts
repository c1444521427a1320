// The keep's tree built in process (loose-tree.ts) must be exactly the tree git
// builds from a private index (read-tree, update-index --index-info, write-tree),
// for any set of kept paths, and readable by real git; where it cannot be built
// here it says so (null) and git builds it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { objectsDirOf, writeBlob } from '../scripts/lib/loose-object.ts';
import { keepTree, type Change } from '../scripts/lib/loose-tree.ts';
import { mulberry32 } from './helpers/prng.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-tree-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
function git(cwd: string, args: string[], extra: Record<string, string> = {}, input?: string): string {
  const r = spawnSync('git', args, { cwd, env: { ...ENV, ...extra }, encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const FILES = ['a.txt', 'b.txt', 'src/x.ts', 'src/y.ts', 'src/deep/z.ts', 'src/deep/w.ts', 'docs/readme.md', 'src-a/q', 'src.b', 'ü/名前.txt'];

function repo(name: string, format: 'sha1' | 'sha256' = 'sha1'): string {
  const r = path.join(dir, name);
  fs.mkdirSync(r);
  git(r, ['init', '-q', `--object-format=${format}`]);
  for (const f of FILES) {
    fs.mkdirSync(path.dirname(path.join(r, f)), { recursive: true });
    fs.writeFileSync(path.join(r, f), `${f}\n`);
  }
  git(r, ['add', '-A']);
  git(r, ['commit', '-qm', 'init']);
  return r;
}

/** git's own tree for the same keep: the private index route the engine falls back to. */
function gitTree(r: string, changes: Record<string, Change>): string {
  const idx = { GIT_INDEX_FILE: path.join(dir, `idx-${Math.random().toString(36).slice(2)}`) };
  git(r, ['read-tree', 'HEAD'], idx);
  const zero = '0'.repeat(git(r, ['rev-parse', 'HEAD']).trim().length);
  const info = Object.entries(changes)
    .map(([p, c]) => (c ? `${c.mode.toString(8)} ${c.id}\t${p}\u0000` : `0 ${zero}\t${p}\u0000`))
    .join('');
  git(r, ['update-index', '-z', '--index-info'], idx, info);
  return git(r, ['write-tree'], idx).trim();
}

describe('the keep tree built in process', () => {
  for (const format of ['sha1', 'sha256'] as const) {
    it(`${format}: the same tree id as git's, for 30 random keeps; fsck clean`, () => {
      const r = repo(`r-${format}`, format);
      const objects = objectsDirOf(r)!;
      const hexLen = format === 'sha1' ? 40 : 64;
      const rnd = mulberry32(format === 'sha1' ? 7 : 11);
      const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
      const NEW = ['c.txt', 'src/new.ts', 'src/deep/new.ts', 'src/fresh/dir/n.ts', 'new-top/k', 'src/deep/deeper/d'];
      const head = git(r, ['rev-parse', 'HEAD']).trim();
      for (let round = 0; round < 30; round++) {
        const changes: Record<string, Change> = {};
        const n = 1 + Math.floor(rnd() * 4);
        for (let i = 0; i < n; i++) {
          const p = pick([...FILES, ...NEW]);
          const kind = rnd();
          if (kind < 0.3 && FILES.includes(p)) changes[p] = null;
          else {
            const id = writeBlob(objects, Buffer.from(`round ${round} ${p} ${i}\n`), hexLen)!;
            changes[p] = { mode: kind < 0.4 ? 0o100755 : kind < 0.45 ? 0o120000 : 0o100644, id };
          }
        }
        if (round === 0) for (const f of FILES.filter((x) => x.startsWith('src/deep/'))) changes[f] = null; // a directory emptied
        const mine = keepTree(objects, head, changes);
        expect(mine, JSON.stringify(changes)).toBe(gitTree(r, changes));
      }
      expect(spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: r, env: ENV }).status).toBe(0);
    });
  }

  it('everything deleted: the empty tree, as git writes it', () => {
    const r = repo('r-empty');
    const head = git(r, ['rev-parse', 'HEAD']).trim();
    const changes = Object.fromEntries(FILES.map((f) => [f, null]));
    expect(keepTree(objectsDirOf(r)!, head, changes)).toBe(gitTree(r, changes));
  });

  it('declines where git must build it: packed trees, a file where a directory was (or the reverse)', () => {
    const r = repo('r-decline');
    const objects = objectsDirOf(r)!;
    const head = git(r, ['rev-parse', 'HEAD']).trim();
    const blob = writeBlob(objects, Buffer.from('x\n'), 40)!;
    expect(keepTree(objects, head, { src: { mode: 0o100644, id: blob } })).toBeNull();
    expect(keepTree(objects, head, { 'a.txt/inner': { mode: 0o100644, id: blob } })).toBeNull();
    expect(keepTree(objects, head, { 'src/x.ts': { mode: 0o100644, id: blob } })).toMatch(/^[0-9a-f]{40}$/);
    git(r, ['repack', '-adq']);
    git(r, ['prune-packed']);
    expect(keepTree(objects, head, { 'src/x.ts': { mode: 0o100644, id: blob } })).toBeNull();
  });
});
