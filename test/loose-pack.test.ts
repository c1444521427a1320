// The loose objects packed at the end of a phase once there are PACK_AT of them (loose-pack.ts), so
// that the check after each phase (a stat per loose object) does not grow over a long loop. What the
// check guaranteed holds: an object the phase forged is set aside, never packed; a packed object the
// next phase rewrites is a changed pack, which git's own check catches. Real git, real files.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { openGitPhase } from '../scripts/lib/git-files-journal.ts';
import { writeBlob } from '../scripts/lib/loose-object.ts';
import { nextPackAt, PACK_AT, packWanted } from '../scripts/lib/loose-pack.ts';

const objectsOf = (repo: string) => path.join(repo, '.git/objects');
const looseIds = (repo: string) =>
  fs.readdirSync(objectsOf(repo)).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => fs.readdirSync(path.join(objectsOf(repo), d)).filter((n) => /^[0-9a-f]{38}$/.test(n)).map((n) => d + n));
/** The objects HEAD reads (its commit, trees and blobs), which stay loose. */
const headIds = (repo: string) => git(repo, 'rev-list', '--objects', 'HEAD').split('\n').map((l) => l.slice(0, 40)).sort();
const packs = (repo: string) => fs.readdirSync(path.join(objectsOf(repo), 'pack')).filter((n) => n.endsWith('.pack'));
/** `n` loose blobs nothing names (as many kept files' old versions): their ids. */
const blobs = (repo: string, n: number, tag = 'b') => Array.from({ length: n }, (_, i) => writeBlob(objectsOf(repo), Buffer.from(`${tag} ${i}\n`), 40)!);
/** The ids git can read as blobs, of these. */
const readable = (repo: string, ids: string[]) =>
  execFileSync('git', ['cat-file', '--batch-check=%(objecttype)'], { cwd: repo, input: `${ids.join('\n')}\n`, encoding: 'utf8' }).split('\n').filter((l) => l === 'blob').length;

async function phase(repo: string, during: () => void = () => undefined) {
  const p = openGitPhase(repo, repo, null)!;
  during();
  return p.settle();
}

describe('the loose objects packed after a phase', () => {
  it('pure: the threshold, and where the next packing starts', () => {
    expect([packWanted(0), packWanted(PACK_AT - 1), packWanted(PACK_AT)]).toEqual([false, false, true]);
    expect([packWanted(PACK_AT, 1500), packWanted(1499, 1500), packWanted(1500, 1500)]).toEqual([false, false, true]);
    // What stayed loose does not count towards the next; a failure waits for twice as many.
    expect(nextPackAt(1200, { ok: true, left: 40 })).toBe(PACK_AT + 40);
    expect(nextPackAt(1200, { ok: true, left: 1200 })).toBe(PACK_AT + 1200);
    expect(nextPackAt(1200, { ok: false, left: 1200 })).toBe(2400);
  });

  it('a corrupt loose object fails the packing: everything left loose, not tried again until the count doubles', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
    blobs(repo, PACK_AT);
    // Its name is its hash (the check after the phase passes it, whenever it was written), but git cannot read its type.
    const raw = Buffer.from('bogus 3\u0000abc');
    const id = createHash('sha1').update(raw).digest('hex');
    const bad = path.join(objectsOf(repo), id.slice(0, 2), id.slice(2));
    fs.mkdirSync(path.dirname(bad), { recursive: true });
    fs.writeFileSync(bad, deflateSync(raw));
    const before = looseIds(repo).length;
    expect(await phase(repo)).toEqual({ unreadable: [], forged: [] });
    expect(packs(repo)).toEqual([]);
    expect(looseIds(repo)).toHaveLength(before);
    expect(Number(fs.readFileSync(path.join(repo, '.autoloop/loose-pack-next'), 'utf8'))).toBe(2 * before);
    // Gone now: the packing would work, but is not tried at the same count.
    fs.rmSync(bad);
    await phase(repo);
    expect(packs(repo)).toEqual([]);
    blobs(repo, before + 1, 'more');
    await phase(repo);
    expect(packs(repo)).toHaveLength(1);
    // HEAD's objects stayed loose: PACK_AT more than those.
    expect(Number(fs.readFileSync(path.join(repo, '.autoloop/loose-pack-next'), 'utf8'))).toBe(looseIds(repo).length + PACK_AT);
  });

  it(`HEAD alone with ${PACK_AT} loose objects: they stay loose, and the next packing waits for ${PACK_AT} more`, async () => {
    const repo = makeRepo(Object.fromEntries(Array.from({ length: PACK_AT }, (_, i) => [`f/${i}.txt`, `${i}\n`])));
    fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
    const head = headIds(repo);
    expect(looseIds(repo).sort()).toEqual(head);
    await phase(repo);
    expect(packs(repo)).toEqual([]);
    expect(looseIds(repo).sort()).toEqual(head);
    expect(Number(fs.readFileSync(path.join(repo, '.autoloop/loose-pack-next'), 'utf8'))).toBe(head.length + PACK_AT);
    blobs(repo, PACK_AT - 1);
    await phase(repo);
    expect(packs(repo)).toEqual([]);
    blobs(repo, 1, 'one more');
    await phase(repo);
    expect(packs(repo)).toHaveLength(1);
    expect(looseIds(repo).sort()).toEqual(head);
  });

  it(`${PACK_AT} loose objects: one pack after the phase, only HEAD's left loose, each still reads as its id`, async () => {
    const repo = makeRepo({ 'a.txt': 'a\n', 'd/e/f.txt': 'f\n' });
    const ids = blobs(repo, PACK_AT);
    expect(packs(repo)).toEqual([]);
    expect(await phase(repo)).toEqual({ unreadable: [], forged: [] });
    expect(looseIds(repo).sort()).toEqual(headIds(repo));
    expect(headIds(repo).length).toBeGreaterThanOrEqual(6);
    expect(packs(repo)).toHaveLength(1);
    expect(readable(repo, ids)).toBe(PACK_AT);
    expect(git(repo, 'cat-file', 'blob', ids[7]!)).toBe('b 7');
    // The next phase has nothing loose to stat, and writes no second pack.
    expect(await phase(repo)).toEqual({ unreadable: [], forged: [] });
    expect(packs(repo)).toHaveLength(1);
  });

  it('fewer: left loose, no pack', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    blobs(repo, 20);
    const before = looseIds(repo).length;
    await phase(repo);
    expect(looseIds(repo)).toHaveLength(before);
    expect(packs(repo)).toEqual([]);
  });

  it('an object the phase rewrote in place is set aside, not packed; the others are packed', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const ids = blobs(repo, PACK_AT);
    const victim = ids[3]!;
    const file = path.join(objectsOf(repo), victim.slice(0, 2), victim.slice(2));
    const r = await phase(repo, () => {
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, deflateSync(Buffer.from('blob 5\u00001000\n')));
    });
    expect(r.forged).toEqual([path.join('.git/objects', victim.slice(0, 2), victim.slice(2))]);
    expect(fs.existsSync(`${file}.autoloop-forged`)).toBe(true);
    expect(packs(repo)).toHaveLength(1);
    expect(looseIds(repo).sort()).toEqual(headIds(repo));
    // Nothing reads it forged: no pack holds it, no loose object either.
    expect(spawnSync('git', ['cat-file', '-e', victim], { cwd: repo }).status).not.toBe(0);
    expect(readable(repo, ids)).toBe(PACK_AT - 1);
  });

  it('a packed object rewritten by the next phase: its pack fails git check and is reported', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const ids = blobs(repo, PACK_AT);
    await phase(repo);
    const [pack] = packs(repo);
    const file = path.join(objectsOf(repo), 'pack', pack!);
    const r = await phase(repo, () => {
      const b = fs.readFileSync(file);
      b[Math.floor(b.length / 2)]! ^= 0xff;
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, b);
    });
    expect(r.forged).toContain(path.join('.git/objects/pack', pack!));
    // No id reads as bytes it does not hash to.
    for (const id of ids.slice(0, 50)) {
      const got = spawnSync('git', ['cat-file', 'blob', id], { cwd: repo });
      if (got.status === 0) expect(execFileSync('git', ['hash-object', '--stdin'], { cwd: repo, input: got.stdout, encoding: 'utf8' }).trim()).toBe(id);
    }
  });

  it('a loop over a repository with many loose objects: packed at the first run, the keeps as before', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '50\n' });
    blobs(repo, PACK_AT + 200);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
    expect(run('baseline').json).toMatchObject({ verdict: 'keep' });
    expect(looseIds(repo).length).toBeLessThan(20);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(run('A').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('40');
    expect(spawnSync('git', ['fsck', '--no-dangling'], { cwd: repo }).status).toBe(0);
  });

  // A candidate's phase may have written an object another phase's scan took as untouched; a pack holding
  // it would be set aside whole by that candidate's check, the sound objects with it. So no settle packs
  // while a candidate's call is in flight, the candidate's own included.
  it("a candidate's run leaves the loose objects loose (its call is in flight); a serial run packs them", () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '50\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    blobs(repo, PACK_AT + 200, 'c');
    const start = engine('candidate', ['start', '--json'], repo);
    expect(start.code, start.stderr).toBe(0);
    const c = start.json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'src/v'), '40\n');
    const run = engine('run-experiment', ['--candidate', c.candidate, '--json'], repo);
    expect(run.code, run.stderr).toBe(0);
    expect(packs(repo)).toEqual([]);
    expect(looseIds(repo).length).toBeGreaterThanOrEqual(PACK_AT + 200);
    expect(spawnSync('git', ['fsck', '--no-dangling'], { cwd: repo }).status).toBe(0);
  });

  // Why the check cannot be skipped under the default containment: `readonly` binds `.autoloop/`, the
  // judges and the engine read-only, not `.git` (a benchmark may commit or stash; runners/readonly.ts).
  it('under the read-only containment the state is unwritable, the object store is not', () => {
    const probe = [
      'if (mkdir -p .git/objects/00 && : > .git/objects/00/autoloop-probe) 2>/dev/null; then g=1; else g=0; fi',
      'if (: > .autoloop/probe) 2>/dev/null; then s=1; else s=0; fi',
      'echo METRIC score=1',
      'echo METRIC objects_writable=$g',
      'echo METRIC state_writable=$s',
    ].join('\n');
    const repo = makeRepo({ 'bench.sh': `${probe}\n`, 'src/v': '50\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    const r = engine('run-experiment', ['--description', 'probe', '--json'], repo, { AUTOLOOP_CONTAINMENT: 'readonly' });
    expect(r.json, r.stderr).toMatchObject({ metrics: { objects_writable: 1, state_writable: 0 } });
    expect(fs.existsSync(path.join(repo, '.git/objects/00/autoloop-probe'))).toBe(true);
  });
});
