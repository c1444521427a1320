// Object caches git trusts as they are, forged by the code under test through
// `.git` (writable to it under every containment): a commit-graph that gives
// a kept commit another tree, a multi-pack-index that maps a kept blob's id to
// other bytes in a sound pack. Either would make what git reads back from the
// keep (a revert, finalize) differ from what was measured. Real engine, real
// repositories, real git.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

// node graph.js <commit-graph> <commit> <tree>: the commit's row now names another tree (checksum redone).
const GRAPH_FORGER = `const fs = require('fs'), crypto = require('crypto');
const [file, commit, tree] = process.argv.slice(2);
const b = Buffer.from(fs.readFileSync(file));
const at = {};
for (let i = 0; i < b[6]; i++) { const o = 8 + i * 12; at[b.toString('latin1', o, o + 4)] = Number(b.readBigUInt64BE(o + 4)); }
const n = b.readUInt32BE(at.OIDF + 255 * 4), id = Buffer.from(commit, 'hex');
let row = -1;
for (let i = 0; i < n; i++) if (b.subarray(at.OIDL + i * 20, at.OIDL + i * 20 + 20).equals(id)) row = i;
Buffer.from(tree, 'hex').copy(b, at.CDAT + row * 36);
crypto.createHash('sha1').update(b.subarray(0, b.length - 20)).digest().copy(b, b.length - 20);
fs.chmodSync(file, 0o644); fs.writeFileSync(file, b);
`;

// node midx.js <multi-pack-index> <oid> <other>: oid now maps to where other's bytes are (checksum redone).
const MIDX_FORGER = `const fs = require('fs'), crypto = require('crypto');
const [file, oid, other] = process.argv.slice(2);
const b = Buffer.from(fs.readFileSync(file));
const at = {};
for (let i = 0; i < b[6]; i++) { const o = 12 + i * 12; at[b.toString('latin1', o, o + 4)] = Number(b.readBigUInt64BE(o + 4)); }
const n = b.readUInt32BE(at.OIDF + 255 * 4);
const row = (h) => { const id = Buffer.from(h, 'hex'); for (let i = 0; i < n; i++) if (b.subarray(at.OIDL + i * 20, at.OIDL + i * 20 + 20).equals(id)) return i; throw new Error(h); };
b.subarray(at.OOFF + row(other) * 8, at.OOFF + row(other) * 8 + 8).copy(b, at.OOFF + row(oid) * 8);
crypto.createHash('sha1').update(b.subarray(0, b.length - 20)).digest().copy(b, b.length - 20);
fs.chmodSync(file, 0o644); fs.writeFileSync(file, b);
`;

// The kept commit (HEAD) made to name a tree whose src/v says 1, never measured.
const PLANT_GRAPH = [
  'x=$(mktemp); GIT_INDEX_FILE=$x git read-tree HEAD',
  'GIT_INDEX_FILE=$x git update-index --cacheinfo 100644,$(printf "1\\n" | git hash-object -w --stdin),src/v',
  't=$(GIT_INDEX_FILE=$x git write-tree); rm -f $x',
  'git commit-graph write --reachable',
  'node graph.js .git/objects/info/commit-graph "$(git rev-parse HEAD)" "$t"',
].join('\n');
// The kept src/v blob's id mapped to a blob saying 1000, each in a sound pack.
const PLANT_MIDX = [
  'f=$(printf "1000\\n" | git hash-object -w --stdin)',
  'git repack -adq; echo "$f" | git pack-objects -q .git/objects/pack/pack >/dev/null; git multi-pack-index write',
  'node midx.js .git/objects/pack/multi-pack-index "$(git rev-parse HEAD:src/v)" "$f"',
].join('\n');

describe('object caches the code under test forges in .git', () => {
  const call = (repo: string, name: string, args: string[]) => engine(name, [...args, '--json'], repo).json as Record<string, unknown>;
  const iterate = (repo: string, d: string) => {
    call(repo, 'run-experiment', []);
    return call(repo, 'log-experiment', ['--description', d]);
  };
  const start = () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'graph.js': GRAPH_FORGER, 'midx.js': MIDX_FORGER, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(iterate(repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(iterate(repo, 'A')).toMatchObject({ verdict: 'keep' });
    return repo;
  };

  it('a commit-graph that gives the kept commit another tree is set aside: the run is invalid, finalize gives the bytes measured', () => {
    const repo = start();
    const kept = git(repo, 'rev-parse', 'HEAD');
    const tree = git(repo, 'rev-parse', 'HEAD^{tree}');
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${PLANT_GRAPH}\n`);
    const r = call(repo, 'run-experiment', []);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/not what their ids say.*commit-graph/);
    expect(call(repo, 'log-experiment', ['--description', 'B'])).toMatchObject({ verdict: 'invalid' });
    // git reads the commit itself again: its own tree, and no staged change status would invent.
    expect(git(repo, 'log', '-1', '--format=%T', kept)).toBe(tree);
    expect(git(repo, 'status', '--porcelain', '--', 'src')).toBe('');
    expect(fs.existsSync(path.join(repo, '.git/objects/info/commit-graph.autoloop-forged'))).toBe(true);
    const fin = engine('finalize', ['--branch', 'out', '--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, 'show', 'out:src/v')).toBe('40');
  });

  it('a sound commit-graph the benchmark writes (git gc) is no forgery: the run is measured and kept', () => {
    const repo = start();
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'git commit-graph write --reachable --split; git repack -adq; git multi-pack-index write\n');
    expect(iterate(repo, 'B')).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(repo, '.git/objects/pack/multi-pack-index'))).toBe(true);
    expect(fs.readdirSync(path.join(repo, '.git/objects/info')).filter((n) => n.includes('forged'))).toEqual([]);
  });

  it('a multi-pack-index that maps the kept blob to other bytes of a sound pack is set aside: the revert writes the bytes measured', () => {
    const repo = start();
    const id = git(repo, 'rev-parse', 'HEAD:src/v');
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${PLANT_MIDX}\n`);
    const r = call(repo, 'run-experiment', []);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/not what their ids say.*multi-pack-index/);
    expect(call(repo, 'log-experiment', ['--description', 'B'])).toMatchObject({ verdict: 'invalid' });
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    // The sound pack stays: every object is still there, and the loop goes on.
    git(repo, 'fsck', '--connectivity-only');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(iterate(repo, 'C')).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'HEAD:src/v')).toBe('30');
  });
});
