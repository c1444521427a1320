// The files beside a pack that say where its objects are, never what they
// are: the reverse index (`.rev`) and the reachability bitmap (`.bitmap`),
// forged by the code under test through `.git` (writable to it under every
// containment) beside a pack that stays sound. What an id reads as does not
// change (git reads no `.rev` or bitmap for it), but bitmap walks list other
// objects and `pack-objects --stdout` (a push, a clone from the repository)
// dies: the guard sets them aside. Real engine, real repositories, real git.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { dropForgedObjects, keepGitFiles } from '../scripts/lib/git-files-guard.ts';
import { revIndexSound } from '../scripts/lib/pack-sidecars.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

// node rev.js <pack .rev>: the objects' pack order rotated by one, its checksum redone (git reads it as sound).
// A rotation, not a reversal: a run that reads a changed value twice forges twice, and a reversal done twice is the sound file again.
const REV_FORGER = `const fs = require('fs'), crypto = require('crypto');
const [file] = process.argv.slice(2);
const b = Buffer.from(fs.readFileSync(file));
const n = (b.length - 12 - 40) / 4;
const pos = []; for (let i = 0; i < n; i++) pos.push(b.readUInt32BE(12 + 4 * i));
pos.push(pos.shift());
pos.forEach((p, i) => b.writeUInt32BE(p, 12 + 4 * i));
crypto.createHash('sha1').update(b.subarray(0, b.length - 20)).digest().copy(b, b.length - 20);
fs.chmodSync(file, 0o644); fs.writeFileSync(file, b);
`;
const FORGE = 'for f in .git/objects/pack/pack-*.rev; do node rev.js "$f"; done\nfor f in .git/objects/pack/pack-*.bitmap; do chmod u+w "$f"; printf x >> "$f"; done';

/** Every object in one pack, with its reverse index and a bitmap (as `git gc` writes them on a server). */
const packAll = (repo: string) => git(repo, '-c', 'pack.writeReverseIndex=true', 'repack', '-adbq');
const packDir = (repo: string) => path.join(repo, '.git/objects/pack');
const named = (repo: string, re: RegExp) => fs.readdirSync(packDir(repo)).filter((n) => re.test(n));
const objects = (repo: string, rev: string, bitmap: boolean) =>
  execFileSync('git', ['rev-list', '--objects', ...(bitmap ? ['--use-bitmap-index'] : []), rev], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .map((l) => l.slice(0, 40))
    .filter(Boolean)
    .sort();
const packsToStdout = (repo: string) => {
  try {
    execFileSync('git', ['pack-objects', '--stdout', '--revs'], { cwd: repo, input: 'HEAD\n', stdio: ['pipe', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
};

describe("a pack's .rev and .bitmap forged beside the sound pack", () => {
  it('reads no object differently, but misleads bitmap walks and breaks pack-objects; the guard sets the .rev aside as forged', () => {
    const repo = makeRepo({ 'rev.js': REV_FORGER, 'f.txt': `${Array.from({ length: 3000 }, (_, i) => i).join('\n')}\n` });
    for (let i = 1; i <= 4; i++) {
      fs.appendFileSync(path.join(repo, 'f.txt'), `change ${i}\n`);
      git(repo, 'commit', '-qam', `c${i}`);
    }
    packAll(repo);
    const [rev] = named(repo, /\.rev$/);
    const idx = fs.readFileSync(path.join(packDir(repo), rev!.replace(/\.rev$/, '.idx')));
    expect(revIndexSound(idx, fs.readFileSync(path.join(packDir(repo), rev!)))).toBe(true);
    const kept = keepGitFiles(repo, null)!;
    execFileSync('sh', ['-c', FORGE], { cwd: repo });
    expect(revIndexSound(idx, fs.readFileSync(path.join(packDir(repo), rev!)))).toBe(false);
    // What each id reads as is what it says (git finds and reads objects through the .idx and the pack).
    for (const c of ['HEAD', 'HEAD~1', 'HEAD~2', 'HEAD~3']) {
      const bytes = execFileSync('git', ['show', `${c}:f.txt`], { cwd: repo });
      expect(execFileSync('git', ['hash-object', '--stdin'], { cwd: repo, input: bytes, encoding: 'utf8' }).trim()).toBe(git(repo, 'rev-parse', `${c}:f.txt`));
    }
    // The harm: a bitmap walk lists other objects, and a push or a clone from here fails.
    expect(objects(repo, 'HEAD~2', true)).not.toEqual(objects(repo, 'HEAD~2', false));
    expect(packsToStdout(repo)).toBe(false);
    return dropForgedObjects(kept).then((out) => {
      expect(out).toEqual([path.join('.git/objects/pack', rev!)]);
      expect(named(repo, /\.rev\.autoloop-forged$/)).toHaveLength(1);
      expect(named(repo, /\.bitmap\.autoloop-aside$/)).toHaveLength(1);
      expect(named(repo, /\.(rev|bitmap)$/)).toEqual([]);
      expect(objects(repo, 'HEAD~2', true)).toEqual(objects(repo, 'HEAD~2', false));
      expect(packsToStdout(repo)).toBe(true);
    });
  });

  const run = (repo: string, d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
  /** The baseline (50) and a keep of 40: built once for the file, copied per test (fromState: it names no path of its own). */
  const start = () => {
    const repo = fromState('forge-sidecars:kept', () => {
      const t = makeRepo({ 'bench.sh': BENCH, 'rev.js': REV_FORGER, 'src/v': '50\n', 'src/hook.sh': ':\n' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], t);
      expect(init.code, init.stderr).toBe(0);
      expect(run(t, 'baseline').json).toMatchObject({ verdict: 'keep' });
      fs.writeFileSync(path.join(t, 'src/v'), '40\n');
      expect(run(t, 'A').json).toMatchObject({ verdict: 'keep' });
      return t;
    });
    return { repo, iterate: (d: string) => run(repo, d) };
  };

  it('in a run: the run is invalid, the forged .rev and the bitmap are set aside, the revert and finalize give the bytes measured', () => {
    const { repo, iterate } = start();
    packAll(repo);
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${FORGE}\n`);
    const r = iterate('B');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/not what their ids say.*\.rev/);
    expect(named(repo, /\.(rev|bitmap)$/)).toEqual([]);
    expect(packsToStdout(repo)).toBe(true);
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(iterate('C').json).toMatchObject({ verdict: 'keep' });
    const fin = engine('finalize', ['--branch', 'out', '--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, 'show', 'out:src/v')).toBe('30');
  });

  it('a sound repack that writes them is no forgery: the run is kept, the sound .rev stays (the bitmap, which the engine cannot check, goes aside)', () => {
    const { repo, iterate } = start();
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'git -c pack.writeReverseIndex=true repack -adbq\n');
    const r = iterate('B');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
    expect(named(repo, /\.rev$/)).toHaveLength(1);
    expect(named(repo, /forged/)).toEqual([]);
    expect(named(repo, /\.bitmap\.autoloop-aside$/)).toHaveLength(1);
    expect(packsToStdout(repo)).toBe(true);
  });
});
