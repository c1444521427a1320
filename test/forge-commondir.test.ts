// A `commondir` file written into the repository's `.git` directory (git
// writes one only in a linked worktree's git dir) sends every git command, the
// engine's included, to another repository: its objects (a kept blob's id read
// as other bytes from a forged pack there), its refs (later keeps landed there,
// the branch here stopped) and its config. Nothing of the repository itself
// changed, so the guard saw nothing. Real engine, real repositories, real git.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACK_FORGER } from './helpers/forge.ts';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { tmpDir } from './helpers/tmp.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

/** Another repository holding this one's refs and objects, plus a pack that maps `id` to a blob saying 1000. */
function evilTwin(repo: string, id: string): string {
  const evil = path.join(tmpDir('autoloop-evil-'), 'evil.git');
  git(repo, 'clone', '-q', '--bare', '--no-local', repo, evil);
  git(evil, 'fetch', '-q', repo, 'refs/heads/*:refs/heads/*');
  // git reads the newest pack first: the forged one must be newer than those the clone brought.
  const past = new Date(Date.now() - 3600_000);
  for (const n of fs.readdirSync(path.join(evil, 'objects/pack'))) fs.utimesSync(path.join(evil, 'objects/pack', n), past, past);
  fs.writeFileSync(path.join(evil, 'forge.js'), PACK_FORGER);
  git(evil, 'config', 'core.bare', 'true');
  const r = spawnSync('node', ['forge.js', path.join(evil, 'objects'), id, '1000\n'], { cwd: evil });
  expect(r.status).toBe(0);
  return evil;
}

/** The baseline (50) and a keep of 40: built once for the file, copied per test (fromState: it names no path of its own). */
function start(): { repo: string; id: string } {
  const repo = fromState('forge-commondir:kept', () => {
    const t = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], t);
    expect(init.code, init.stderr).toBe(0);
    const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], t).json;
    expect(run('baseline')).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(t, 'src/v'), '40\n');
    expect(run('A')).toMatchObject({ verdict: 'keep' });
    return t;
  });
  return { repo, id: git(repo, 'rev-parse', 'HEAD:src/v') };
}

/** This repository holds the keep of 30 on its own branch, the kept blob of 40 reads as measured, and finalize replays both. */
function keptHere(repo: string, id: string): void {
  expect(fs.readFileSync(path.join(repo, '.git/refs/heads/autoloop/exp'), 'utf8').trim()).toBe(git(repo, 'rev-parse', 'autoloop/exp'));
  expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('30');
  expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
  const fin = engine('finalize', ['--json'], repo);
  expect(fin.code, fin.stderr).toBe(0);
  expect(git(repo, 'show', 'autoloop/exp-final~1:src/v')).toBe('40');
}

describe("a commondir planted in the repository's .git", () => {
  it('by the benchmark: the run is invalid, the file set aside, and the loop goes on in this repository', () => {
    const { repo, id } = start();
    const evil = evilTwin(repo, id);
    // The attack is real: with it, git reads the kept blob's id as 1000.
    fs.writeFileSync(path.join(repo, '.git/commondir'), `${evil}\n`);
    expect(git(repo, 'cat-file', 'blob', id)).toBe('1000');
    fs.rmSync(path.join(repo, '.git/commondir'));
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `echo ${evil} > .git/commondir\n`);
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    const r = engine('run-experiment', ['--description', 'B', '--json'], repo);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/\.git\/commondir/);
    expect(fs.existsSync(path.join(repo, '.git/commondir'))).toBe(false);
    expect(fs.readFileSync(path.join(repo, 'src/v'), 'utf8')).toBe('40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(engine('run-experiment', ['--description', 'C', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    keptHere(repo, id);
  });

  it('left with nothing to recover it (an engine killed, its copy removed): the next call sets it aside first', () => {
    const { repo, id } = start();
    const evil = evilTwin(repo, id);
    fs.writeFileSync(path.join(repo, '.git/commondir'), `${evil}\n`);
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    const r = engine('run-experiment', ['--description', 'C', '--json'], repo);
    expect(r.stderr).toMatch(/set aside \.git\/commondir, which sent git to another repository/);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
    expect(fs.readdirSync(path.join(repo, '.git')).filter((n) => n.startsWith('commondir'))).toEqual(['commondir.autoloop-forged']);
    keptHere(repo, id);
  });
});
