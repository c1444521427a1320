// The git processes and fsyncs of one iteration (issue 8, "the cost of an
// iteration"; each is justified in docs/design.md § The cost of an iteration):
// counted by the engine (AUTOLOOP_COUNT_IO) on a real repository, in both forms
// (the one call, run + log), keep and discard. The result line's fsync runs on
// Node's thread pool beside the keep's tree and commit object: the count also
// shows that the call waited for it (a call that ended first would count none).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baselineRepo, engine, git, ledger, setValue } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { writeBlob } from '../scripts/lib/loose-object.ts';
import { PACK_AT } from '../scripts/lib/loose-pack.ts';

const counts = tmpDir('autoloop-iteration-io-');
afterAll(() => fs.rmSync(counts, { recursive: true, force: true }));

// A home of the test's own: a ~/.gitconfig naming a filter (git-lfs) would add the engine's one config read.
const home = path.join(counts, 'home');
fs.mkdirSync(home, { recursive: true });
fs.writeFileSync(path.join(home, '.gitconfig'), '[user]\n\tname = t\n\temail = t@example.invalid\n');
// A system config that names what the engine asks about costs that one read more, whatever the call.
const system = (() => {
  try {
    return /filter|attributesfile|bigfilethreshold|driver|autocrlf|excludesfile|include/i.test(fs.readFileSync('/etc/gitconfig', 'utf8')) ? 1 : 0;
  } catch {
    return 0;
  }
})();

let n = 0;
/** One engine call; its git processes and fsyncs. */
function counted(cmd: string, args: string[], repo: string): { git: number; fsync: number; json: Record<string, unknown> | null } {
  const file = path.join(counts, `c-${n++}`);
  const r = engine(cmd, [...args, '--json'], repo, { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), AUTOLOOP_COUNT_IO: file });
  expect(r.code, r.stderr).toBe(0);
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const sum = (k: string) => [...text.matchAll(new RegExp(`^${k} (\\d+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  return { git: sum('git'), fsync: sum('fsync'), json: r.json };
}

describe('git processes and fsyncs per iteration', { timeout: 600_000 }, () => {
  it('one call: a keep 5 and 1, a discard 5 and 1; the keep is on the branch and its line in the ledger', () => {
    const repo = baselineRepo('100');
    setValue(repo, '90');
    const keep = counted('run-experiment', ['--description', 'faster'], repo);
    expect(keep.json).toMatchObject({ verdict: 'keep' });
    expect({ git: keep.git, fsync: keep.fsync }).toEqual({ git: 5 + system, fsync: 1 });
    expect(git(repo, 'log', '-1', '--format=%s')).toBe('autoloop: faster');
    expect(git(repo, 'status', '--porcelain')).toBe('');
    // The commit and the branch update the engine wrote (loose-commit.ts, loose-ref.ts): sound, with the
    // identity of ~/.gitconfig, on the branch's reflog and HEAD's, no lock left.
    expect(git(repo, 'fsck', '--strict', '--no-dangling')).toBe('');
    expect(git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%ad', '--date=raw')).toMatch(/^t <t@example\.invalid>\|t <t@example\.invalid>\|\d+ [+-]\d{4}$/);
    expect(git(repo, 'reflog', '-1', '--format=%gs', 'autoloop/exp')).toMatch(/^autoloop: keep r0002/);
    expect(git(repo, 'reflog', '-1', '--format=%gs|%gn', 'HEAD')).toBe('autoloop: keep r0002|t');
    expect(fs.readdirSync(path.join(repo, '.git')).filter((f) => f.endsWith('.lock'))).toEqual([]);
    setValue(repo, '95');
    const discard = counted('run-experiment', ['--description', 'slower'], repo);
    expect(discard.json).toMatchObject({ verdict: 'discard' });
    expect({ git: discard.git, fsync: discard.fsync }).toEqual({ git: 5 + system, fsync: 1 });
    expect(fs.readFileSync(path.join(repo, 'src', 'value.txt'), 'utf8')).toBe('90');
    const results = ledger(repo).filter((l) => l.type === 'result').map((l) => l.verdict);
    expect(results).toEqual(['keep', 'keep', 'discard']);
  });

  it('run + log: a keep 4 + 2 and 1 + 1, a discard 4 + 2 and 1 + 1', () => {
    const repo = baselineRepo('100');
    setValue(repo, '90');
    const run = counted('run-experiment', [], repo);
    const log = counted('log-experiment', ['--description', 'faster'], repo);
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect([run.git, log.git, run.fsync, log.fsync]).toEqual([4 + system, 2 + system, 1, 1]);
    setValue(repo, '95');
    const run2 = counted('run-experiment', [], repo);
    const log2 = counted('log-experiment', ['--description', 'slower'], repo);
    expect(log2.json).toMatchObject({ verdict: 'discard' });
    expect([run2.git, log2.git, run2.fsync, log2.fsync]).toEqual([4 + system, 2 + system, 1, 1]);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('an identity the engine cannot be sure of (author.name set): commit-tree and update-ref, 7 again, with git\'s identity', () => {
    const repo = baselineRepo('100');
    fs.appendFileSync(path.join(repo, '.git', 'config'), '[author]\n\tname = Someone Else\n');
    setValue(repo, '90');
    const keep = counted('run-experiment', ['--description', 'faster'], repo);
    expect(keep.json).toMatchObject({ verdict: 'keep' });
    expect({ git: keep.git, fsync: keep.fsync }).toEqual({ git: 7 + system, fsync: 1 });
    expect(git(repo, 'log', '-1', '--format=%an|%cn')).toBe('Someone Else|t');
  });

  it('a result line whose fsync fails: one line, non-zero, the branch not moved; the next call completes the keep', () => {
    const repo = baselineRepo('100');
    const before = git(repo, 'rev-parse', 'HEAD');
    setValue(repo, '90');
    // A real fsync that fails: the engine syncs /dev/null instead (EINVAL), after writing the line.
    const r = engine('run-experiment', ['--description', 'faster'], repo, { AUTOLOOP_FAULT_AT: 'ledger:fsync' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ledger\.jsonl: fsync failed \(EINVAL\); the line was written, its durability is unknown/);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(before);
    expect(ledger(repo).at(-1)).toMatchObject({ type: 'result', run_id: 'r0002', verdict: 'keep' });
    const next = engine('run-experiment', ['--description', 'again', '--json'], repo);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/completed the keep of r0002/);
    expect(git(repo, 'show', 'HEAD:src/value.txt')).toBe('90');
    expect(ledger(repo).filter((l) => l.type === 'event' && l.event === 'committed').map((l) => l.run_id)).toContain('r0002');
  });

  it('a file in a new folder: one listing of the folder more per status read (5 + 2), the same fsync', () => {
    const repo = baselineRepo('100');
    setValue(repo, '90');
    fs.mkdirSync(path.join(repo, 'src', 'deep', 'er'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'src', 'deep', 'er', 'new.txt'), 'new\n');
    const keep = counted('run-experiment', ['--description', 'new folder'], repo);
    expect(keep.json).toMatchObject({ verdict: 'keep' });
    expect({ git: keep.git, fsync: keep.fsync }).toEqual({ git: 7 + system, fsync: 1 });
    expect(git(repo, 'show', 'HEAD:src/deep/er/new.txt')).toBe('new');
  });

  it(`${PACK_AT} loose objects: the keep that packs them 5 + 2, the iterations after it 5 and 5 again`, () => {
    const repo = baselineRepo('100');
    const objects = path.join(repo, '.git', 'objects');
    for (let i = 0; i < PACK_AT; i++) writeBlob(objects, Buffer.from(`old ${i}\n`), 40);
    setValue(repo, '90');
    // After the phase: pack-objects and prune-packed (loose-pack.ts), once per PACK_AT loose objects:
    // the check after every later phase then stats a few instead of all of them. HEAD's objects and
    // the measured blobs stay loose: the keep's tree is still built in the engine, its blobs still
    // found loose, the next run's net lines still read from HEAD's blob.
    const packing = counted('run-experiment', ['--description', 'packs'], repo);
    expect(packing.json).toMatchObject({ verdict: 'keep' });
    expect({ git: packing.git, fsync: packing.fsync }).toEqual({ git: 7 + system, fsync: 1 });
    expect(fs.readdirSync(path.join(objects, 'pack')).filter((f) => f.endsWith('.pack'))).toHaveLength(1);
    setValue(repo, '80');
    const keep = counted('run-experiment', ['--description', 'faster'], repo);
    expect(keep.json).toMatchObject({ verdict: 'keep' });
    expect({ git: keep.git, fsync: keep.fsync }).toEqual({ git: 5 + system, fsync: 1 });
    setValue(repo, '95');
    const discard = counted('run-experiment', ['--description', 'slower'], repo);
    expect(discard.json).toMatchObject({ verdict: 'discard' });
    expect({ git: discard.git, fsync: discard.fsync }).toEqual({ git: 5 + system, fsync: 1 });
    expect(git(repo, 'show', 'HEAD:src/value.txt')).toBe('80');
  });
});
