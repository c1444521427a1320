// Copies of git's files in `.autoloop/git-kept/` planted by code under test
// where `.autoloop/` is writable to it (the `pidns` and `group` containments):
// a folder under a dead engine's name, which the next call under the lock acts
// on before anything else. No engine needs to be killed for it. Each test plants
// what a benchmark could, then lets the next real engine call recover.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACK_FORGER } from './helpers/forge.ts';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { tmpDir } from './helpers/tmp.ts';
import { keepGitFiles } from '../scripts/lib/git-files-guard.ts';

const BENCH = 'echo METRIC score=$(cat src/v)\n';

/** The baseline (50) and a keep of 40: built once for the file, copied per test (fromState: it names no path of its own). */
function start(): string {
  return fromState('git-kept-trust:kept', () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(engine('run-experiment', ['--description', 'A', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    return repo;
  });
}

/** A copy folder under the name of an engine that is gone (a process that has exited), as git-files-journal.ts writes one. */
function plant(repo: string, record: Record<string, unknown>, copies: Record<string, string>): string {
  const pid = spawnSync('true').pid as number;
  const dir = path.join(repo, '.autoloop', 'git-kept', `${pid}.x.planted`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(copies)) fs.writeFileSync(path.join(dir, name), text);
  fs.writeFileSync(path.join(dir, 'kept.json'), JSON.stringify({ pid, start: null, ...record }));
  return dir;
}

/** The record of the repository's own files, as the engine would write it (no bytes copied). */
function ownRecord(repo: string) {
  const kept = keepGitFiles(repo, 'autoloop/exp')!;
  return {
    tree: repo,
    files: kept.files.map((f) => ({ file: f.file, kind: f.kind, copy: null })),
    objects: { dir: kept.objects.dir, packs: [...kept.objects.packs], alternates: null as string | null, caches: [...kept.objects.caches], history: kept.objects.history.map((h) => ({ file: h.file, copy: null as string | null })), sidecars: [...kept.objects.sidecars] },
  };
}

describe('a copy of git\'s files planted in .autoloop/git-kept/', () => {
  it('naming the ledger as a HEAD to put back is refused whole: the ledger is not rewritten', () => {
    const repo = start();
    const ledger = path.join(repo, '.autoloop/experiments/exp/ledger.jsonl');
    const before = fs.readFileSync(ledger, 'utf8');
    const forged = before.replace(/"primary":50/g, '"primary":10');
    expect(forged).not.toBe(before);
    const dir = plant(repo, { tree: repo, files: [{ file: ledger, kind: 'head', copy: '0' }], objects: { dir: path.join(repo, '.git/objects'), packs: [], alternates: null, caches: [], history: [] } }, { '0': forged });
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    const r = engine('run-experiment', ['--description', 'B', '--json'], repo);
    expect(r.stderr).toMatch(/refused the copy \.autoloop\/git-kept\/.*planted: it names files that are not git's own/);
    expect(fs.readFileSync(ledger, 'utf8').startsWith(before)).toBe(true);
    // Judged against the baseline really measured (50), not a forged 10.
    expect(r.json, r.stderr).toMatchObject({ verdict: 'discard' });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("naming an alternates store with a forged pack, and a shallow file, as there before: neither is installed, the keep reads as measured", () => {
    const repo = start();
    const id = git(repo, 'rev-parse', 'HEAD:src/v');
    const evil = tmpDir('autoloop-evil-');
    fs.writeFileSync(path.join(evil, 'forge.js'), PACK_FORGER);
    fs.mkdirSync(path.join(evil, 'objects'));
    execFileSync('node', ['forge.js', path.join(evil, 'objects'), id, '1000\n'], { cwd: evil });
    // The attack is real: with that store as an alternate, git reads the kept blob's id as 1000.
    const alternates = path.join(repo, '.git/objects/info/alternates');
    fs.writeFileSync(alternates, `${path.join(evil, 'objects')}\n`);
    expect(git(repo, 'cat-file', 'blob', id)).toBe('1000');
    fs.rmSync(alternates);
    const record = ownRecord(repo);
    record.objects.alternates = 'alternates';
    record.objects.history[0]!.copy = 'history-0';
    expect(record.objects.history[0]!.file).toBe(path.join(repo, '.git/shallow'));
    plant(repo, record, { alternates: `${path.join(evil, 'objects')}\n`, 'history-0': `${git(repo, 'rev-parse', 'HEAD')}\n` });
    const r = engine('control', ['repair'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(alternates)).toBe(false);
    expect(fs.existsSync(path.join(repo, '.git/shallow'))).toBe(false);
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(engine('run-experiment', ['--description', 'B', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const fin = engine('finalize', ['--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, 'show', 'autoloop/exp-final~1:src/v')).toBe('40');
  });
});
