// The loop's own packs (one per packing of loose objects, loose-pack.ts) merged into one once there
// are many (pack-merge.ts): the user's packs untouched, every object of the loop's packs kept (a kept
// commit's too), and a kill at each step leaves a valid repository that the next merge completes.
// Real git, real files, a real process killed at the engine's crash points.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { git, makeRepo, ROOT } from './helpers/engine.ts';
import { writeBlob } from '../scripts/lib/loose-object.ts';
import { PACK_AT, packLoose } from '../scripts/lib/loose-pack.ts';
import { idsOfIndex, MERGE_AT, mergeLoopPacks, noteLoopPack } from '../scripts/lib/pack-merge.ts';
import { openGitPhase } from '../scripts/lib/git-files-journal.ts';

const objectsOf = (repo: string) => path.join(repo, '.git/objects');
const packDir = (repo: string) => path.join(objectsOf(repo), 'pack');
const packs = (repo: string) => fs.readdirSync(packDir(repo)).filter((n) => n.endsWith('.pack')).sort();
const listed = (repo: string) => fs.readFileSync(path.join(repo, '.autoloop/loose-packs'), 'utf8').split('\n').filter(Boolean);
const blobs = (repo: string, n: number, tag: string) => Array.from({ length: n }, (_, i) => writeBlob(objectsOf(repo), Buffer.from(`${tag} ${i}\n`), 40)!);
const readable = (repo: string, ids: string[]) =>
  execFileSync('git', ['cat-file', '--batch-check=%(objecttype)'], { cwd: repo, input: `${ids.join('\n')}\n`, encoding: 'utf8' }).split('\n').filter((l) => l && !l.endsWith('missing')).length;
const fsck = (repo: string) => spawnSync('git', ['fsck', '--full', '--no-dangling'], { cwd: repo, encoding: 'utf8' });
const statOf = (f: string) => {
  const s = fs.statSync(f);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
};

/** A repository with five packs of the loop's (one holding a kept commit's objects) and one of the user's. */
async function setup() {
  const repo = makeRepo({ 'a.txt': 'a\n' });
  fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
  const ids: string[] = [];
  // A kept commit off HEAD (as a keep the loop made, on another ref): its objects go into a loop's pack.
  git(repo, 'checkout', '-q', '-b', 'kept');
  fs.writeFileSync(path.join(repo, 'k.txt'), 'kept\n');
  git(repo, 'add', 'k.txt');
  git(repo, 'commit', '-qm', 'kept');
  git(repo, 'checkout', '-q', 'main');
  const kept = git(repo, 'rev-list', '--objects', 'main..kept').split('\n').map((l) => l.slice(0, 40)).filter(Boolean);
  for (let k = 0; k < 5; k++) {
    const batch = [...blobs(repo, 30, `loop ${k}`), ...(k === 0 ? kept : [])];
    ids.push(...batch);
    const r = await packLoose(repo, objectsOf(repo), batch);
    expect(r.ok && r.pack).toBeTruthy();
    noteLoopPack(repo, r.pack!);
  }
  const mine = blobs(repo, 20, 'user');
  const user = execFileSync('git', ['pack-objects', '-q', '--incremental', path.join(packDir(repo), 'pack')], { cwd: repo, input: `${mine.join('\n')}\n`, encoding: 'utf8' }).trim();
  const userPack = path.join(packDir(repo), `pack-${user}.pack`);
  return { repo, ids, mine, userPack, userStat: statOf(userPack), userIdx: statOf(userPack.replace(/\.pack$/, '.idx')) };
}

function intact(s: Awaited<ReturnType<typeof setup>>): void {
  expect(fsck(s.repo).status).toBe(0);
  expect(readable(s.repo, s.ids)).toBe(s.ids.length);
  expect(readable(s.repo, s.mine)).toBe(s.mine.length);
  expect(git(s.repo, 'log', '--format=%s', 'kept', '-1').trim()).toBe('kept');
  // The user's pack: never read for the merge, never removed or rewritten.
  expect(statOf(s.userPack)).toBe(s.userStat);
  expect(statOf(s.userPack.replace(/\.pack$/, '.idx'))).toBe(s.userIdx);
  expect(listed(s.repo)).not.toContain(path.basename(s.userPack).slice(5, -5));
}

describe("the loop's packs merged once there are many", () => {
  it('below the count nothing happens; at it the five become one, the user\'s pack and every object kept', async () => {
    const s = await setup();
    expect(packs(s.repo)).toHaveLength(6);
    expect(await mergeLoopPacks(s.repo, s.repo, objectsOf(s.repo), 6)).toBe(0);
    expect(packs(s.repo)).toHaveLength(6);
    // A multi-pack index (git's own, which may name the loop's packs): nothing is merged.
    const midx = path.join(packDir(s.repo), 'multi-pack-index');
    fs.writeFileSync(midx, '');
    expect(await mergeLoopPacks(s.repo, s.repo, objectsOf(s.repo), 5)).toBe(0);
    fs.rmSync(midx);
    expect(await mergeLoopPacks(s.repo, s.repo, objectsOf(s.repo), 5)).toBe(5);
    expect(packs(s.repo)).toHaveLength(2);
    expect(listed(s.repo)).toHaveLength(1);
    expect(idsOfIndex(path.join(packDir(s.repo), `pack-${listed(s.repo)[0]}.idx`))).toHaveLength(s.ids.length);
    intact(s);
  });

  for (const point of ['pack-merge:written', 'pack-merge:listed', 'pack-merge:index-removed']) {
    it(`killed at ${point}: a valid repository, nothing lost, and the next merge completes it`, async () => {
      const s = await setup();
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/pack-merge-driver.ts'), s.repo], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, AUTOLOOP_CRASH_AT: point } });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      intact(s);
      await mergeLoopPacks(s.repo, s.repo, objectsOf(s.repo), 3);
      intact(s);
      // One pack of the loop's listed. Killed before its merge was listed, that pack stays unlisted,
      // unless (as a rule) the same packs merged again make the very same pack, listed this time.
      expect(listed(s.repo)).toHaveLength(1);
      if (point === 'pack-merge:written') expect(packs(s.repo).length).toBeLessThanOrEqual(3);
      else expect(packs(s.repo)).toHaveLength(2);
      // Nothing half-removed is left of a merged pack.
      const stems = new Set(fs.readdirSync(packDir(s.repo)).map((n) => n.replace(/\.[a-z]+$/, '')));
      for (const stem of stems) expect(fs.existsSync(path.join(packDir(s.repo), `${stem}.idx`))).toBe(true);
    });
  }

  it(`a phase's settle that packs the ${MERGE_AT}th pack of the loop's merges them; a candidate's call in flight holds both off`, async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
    const ids: string[] = [];
    for (let k = 0; k < MERGE_AT - 1; k++) {
      const batch = blobs(repo, 5, `loop ${k}`);
      ids.push(...batch);
      noteLoopPack(repo, (await packLoose(repo, objectsOf(repo), batch)).pack!);
    }
    ids.push(...blobs(repo, PACK_AT, 'phase'));
    const held = await openGitPhase(repo, repo, null)!.settle(undefined, () => false);
    expect(held).toEqual({ unreadable: [], forged: [] });
    expect(packs(repo)).toHaveLength(MERGE_AT - 1);
    await openGitPhase(repo, repo, null)!.settle();
    expect(packs(repo)).toHaveLength(1);
    expect(listed(repo)).toHaveLength(1);
    expect(readable(repo, ids)).toBe(ids.length);
    expect(fsck(repo).status).toBe(0);
  });
});
