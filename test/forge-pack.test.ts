// A benchmark that packs every object of the repository (`git repack -ad`)
// and then forges that pack's index: the guard must set aside the lie, not
// the repository's objects. Set aside whole, the pack took every commit with
// it (`bad object HEAD` on every later call, repair too). Real engine, real
// repositories, real git.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

// node idx.js <pack .idx (v2)> <oid> <other>: oid now maps to where other's bytes are (checksum redone).
const IDX_FORGER = `const fs = require('fs'), crypto = require('crypto');
const [file, oid, other] = process.argv.slice(2);
const b = Buffer.from(fs.readFileSync(file));
const n = b.readUInt32BE(8 + 255 * 4), ids = 8 + 1024, offs = ids + 24 * n;
const row = (h) => { const id = Buffer.from(h, 'hex'); for (let i = 0; i < n; i++) if (b.subarray(ids + i * 20, ids + i * 20 + 20).equals(id)) return i; throw new Error(h); };
b.writeUInt32BE(b.readUInt32BE(offs + row(other) * 4), offs + row(oid) * 4);
crypto.createHash('sha1').update(b.subarray(0, b.length - 20)).digest().copy(b, b.length - 20);
fs.chmodSync(file, 0o644); fs.writeFileSync(file, b);
`;
// Everything in one pack (a ref keeps the blob saying 1000 in it), then its index maps the kept src/v to that blob.
const ATTACK = [
  'f=$(printf "1000\\n" | git hash-object -w --stdin); git update-ref refs/tags/planted "$f"',
  'git repack -adq',
  'node idx.js .git/objects/pack/pack-*.idx "$(git rev-parse HEAD:src/v)" "$f"',
].join('\n');

describe('a forged index of the pack that holds every object', () => {
  it('is made again from the pack: the run is invalid, the revert writes the bytes measured, and the loop goes on', () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'idx.js': IDX_FORGER, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    const iterate = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
    expect(iterate('baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(iterate('A').json).toMatchObject({ verdict: 'keep' });
    const id = git(repo, 'rev-parse', 'HEAD:src/v');
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${ATTACK}\n`);
    const r = iterate('B');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/not what their ids say/);
    // Every object is still there, under its own id.
    git(repo, 'fsck', '--connectivity-only');
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(iterate('C').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'HEAD:src/v')).toBe('30');
  });
});
