// Blobs the engine writes itself (loose-object.ts) must be objects real git reads:
// cat-file gives the bytes back, fsck finds nothing wrong, and a commit of them works.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { objectsDirOf, writeBlob, writePathBlob } from '../scripts/lib/loose-object.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-loose-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
function git(cwd: string, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('git', args, { cwd, env: ENV, encoding: 'buffer' });
  return { code: r.status ?? -1, out: r.stdout.toString('latin1'), err: r.stderr.toString() };
}

function repo(name: string, format: 'sha1' | 'sha256' = 'sha1'): string {
  const r = path.join(dir, name);
  fs.mkdirSync(r);
  expect(git(r, 'init', '-q', `--object-format=${format}`).code).toBe(0);
  fs.writeFileSync(path.join(r, 'a.txt'), 'a\n');
  git(r, 'add', 'a.txt');
  expect(git(r, 'commit', '-qm', 'init').code).toBe(0);
  return r;
}

const CASES: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['text', Buffer.from('one\r\ntwo\nno newline at the end')],
  ['binary', Buffer.from(Array.from({ length: 200_003 }, (_, i) => (i * 7919) % 256))],
];

describe('loose blobs written in process', () => {
  for (const format of ['sha1', 'sha256'] as const) {
    it(`${format}: git hash-object gives the same id, cat-file the same bytes, fsck no error`, () => {
      const r = repo(`r-${format}`, format);
      const objects = objectsDirOf(r);
      expect(objects).toBe(path.join(r, '.git', 'objects'));
      for (const [name, bytes] of CASES) {
        const file = path.join(r, `${name}.bin`);
        fs.writeFileSync(file, bytes);
        const id = writeBlob(objects!, bytes, format === 'sha1' ? 40 : 64);
        expect(id, name).toBe(git(r, 'hash-object', '--no-filters', file).out.trim());
        expect(git(r, 'cat-file', '-t', id!).out.trim()).toBe('blob');
        expect(Buffer.from(git(r, 'cat-file', 'blob', id!).out, 'latin1').equals(bytes), name).toBe(true);
        // written twice: the same object, nothing left behind
        expect(writeBlob(objects!, bytes, format === 'sha1' ? 40 : 64)).toBe(id);
      }
      expect(fs.readdirSync(objects!, { recursive: true }).filter((f) => String(f).includes('tmp_obj_'))).toEqual([]);
      const fsck = git(r, 'fsck', '--strict', '--no-dangling');
      expect(fsck.code, fsck.err).toBe(0);
      expect(fsck.err + fsck.out).not.toMatch(/error|corrupt|missing|bad/i);
    });
  }

  it('a commit of written blobs (the keep path: update-index, write-tree, commit-tree) checks out byte for byte', () => {
    const r = repo('r-commit');
    const objects = objectsDirOf(r)!;
    const bytes = Buffer.from('kept\n');
    fs.writeFileSync(path.join(r, 'a.txt'), bytes);
    fs.symlinkSync('a.txt', path.join(r, 'link'));
    const a = writePathBlob(objects, path.join(r, 'a.txt'), fs.lstatSync(path.join(r, 'a.txt')), 40);
    const l = writePathBlob(objects, path.join(r, 'link'), fs.lstatSync(path.join(r, 'link')), 40);
    expect(a).toMatch(/^[0-9a-f]{40}$/);
    expect(l).toBe(spawnSync('git', ['hash-object', '--stdin'], { cwd: r, input: 'a.txt', encoding: 'utf8' }).stdout.trim());
    const idx = { ...ENV, GIT_INDEX_FILE: path.join(dir, 'idx-commit') };
    spawnSync('git', ['read-tree', 'HEAD'], { cwd: r, env: idx });
    const info = spawnSync('git', ['update-index', '-z', '--index-info'], { cwd: r, env: idx, input: `100644 ${a}\ta.txt\u0000120000 ${l}\tlink\u0000` });
    expect(info.status).toBe(0);
    const tree = spawnSync('git', ['write-tree'], { cwd: r, env: idx, encoding: 'utf8' });
    expect(tree.status, tree.stderr).toBe(0);
    const commit = spawnSync('git', ['commit-tree', tree.stdout.trim(), '-p', 'HEAD', '-m', 'k'], { cwd: r, env: ENV, encoding: 'utf8' }).stdout.trim();
    expect(git(r, 'show', `${commit}:a.txt`).out).toBe('kept\n');
    expect(git(r, 'cat-file', '-p', `${commit}:link`).out).toBe('a.txt');
    expect(git(r, 'fsck', '--strict', '--no-dangling').code).toBe(0);
  });

  it('a linked worktree writes into the common object store', () => {
    const r = repo('r-wt');
    const wt = path.join(dir, 'wt');
    expect(git(r, 'worktree', 'add', '-q', '--detach', wt).code).toBe(0);
    expect(objectsDirOf(wt)).toBe(path.join(r, '.git', 'objects'));
    const id = writeBlob(objectsDirOf(wt)!, Buffer.from('from the worktree\n'), 40)!;
    expect(git(r, 'cat-file', 'blob', id).out).toBe('from the worktree\n');
  });

  it('declines (git writes instead): shared-repository config, no .git, a large file, an unknown format', () => {
    const r = repo('r-shared');
    git(r, 'config', 'core.sharedRepository', 'group');
    expect(objectsDirOf(r)).toBeNull();
    expect(objectsDirOf(dir)).toBeNull();
    const plain = repo('r-plain');
    const objects = objectsDirOf(plain)!;
    const big = path.join(plain, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(16 * 1024 * 1024 + 1));
    expect(writePathBlob(objects, big, fs.lstatSync(big), 40)).toBeNull();
    expect(writeBlob(objects, Buffer.from('x'), 32)).toBeNull();
  });
});

describe('a loose object checked against its name (loose-forged.ts looseSound)', () => {
  it('reads a small one whole and a large one streamed, including one that inflates far past its compressed size', async () => {
    const { looseSound } = await import('../scripts/lib/loose-forged.ts');
    const r = repo('sound');
    const objects = objectsDirOf(r)!;
    const write = (bytes: Buffer): string => {
      const file = path.join(r, 'blob.bin');
      fs.writeFileSync(file, bytes);
      const id = git(r, 'hash-object', '-w', '--no-filters', file).out.trim();
      expect(id).toMatch(/^[0-9a-f]{40}$/);
      return id;
    };
    const small = write(Buffer.from('small\n'));
    const zeros = write(Buffer.alloc(3 * 1024 * 1024)); // 3 MB inflated from a few KB: past the whole-read cap
    const noisy = write(randomBytes(1_500_000)); // large on disk too: streamed
    for (const id of [small, zeros, noisy]) expect(await looseSound(objects, id), id).toBe(true);
    // Forged: another object's bytes under this name, then bytes that are not zlib at all.
    const at = (id: string) => path.join(objects, id.slice(0, 2), id.slice(2));
    for (const id of [small, zeros]) fs.chmodSync(at(id), 0o644);
    fs.copyFileSync(at(zeros), at(small));
    expect(await looseSound(objects, small)).toBe(false);
    fs.writeFileSync(at(zeros), 'not zlib');
    expect(await looseSound(objects, zeros)).toBe(false);
  });
});
