// A benchmark that moves the repository's `.git` away and puts a symbolic link
// or a `gitdir:` file to another repository in its place: every later git
// command, the engine's included, read that repository (its objects: a kept
// blob's id read as other bytes; its refs: keeps landed there). The guard kept
// git's files by their paths under `.git`, which then led there too. Real
// engine, real repositories, real git.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACK_FORGER } from './helpers/forge.ts';
import { engine, engineAsync, git, makeRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { tmpDir } from './helpers/tmp.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

/** A bare copy of the repository whose newest pack maps `id` to a blob saying 1000. */
function evilTwin(repo: string, id: string): string {
  const evil = path.join(tmpDir('autoloop-evil-'), 'evil.git');
  git(repo, 'clone', '-q', '--bare', '--no-local', repo, evil);
  git(evil, 'fetch', '-q', repo, 'refs/heads/*:refs/heads/*');
  const past = new Date(Date.now() - 3600_000);
  for (const n of fs.readdirSync(path.join(evil, 'objects/pack'))) fs.utimesSync(path.join(evil, 'objects/pack', n), past, past);
  fs.writeFileSync(path.join(evil, 'forge.js'), PACK_FORGER);
  expect(spawnSync('node', ['forge.js', path.join(evil, 'objects'), id, '1000\n'], { cwd: evil }).status).toBe(0);
  return evil;
}

/** The baseline (50) and a keep of 40: built once for the file, copied per test (fromState: it names no path of its own). */
const kept = (): string =>
  fromState('forge-dotgit:kept', () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
    expect(run('baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(run('A').json).toMatchObject({ verdict: 'keep' });
    return repo;
  });

describe("the repository's .git swapped for another repository by the benchmark", () => {
  for (const [how, swap] of [
    ['a symbolic link', (evil: string) => `mv .git .git-moved && ln -s ${evil} .git`],
    ['a gitdir: file', (evil: string) => `mv .git .git-moved && echo "gitdir: ${evil}" > .git`],
  ] as const) {
    it(`as ${how}: the run is invalid, .git is put back, the loop goes on in this repository`, () => {
      const repo = kept();
      const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
      const id = git(repo, 'rev-parse', 'HEAD:src/v');
      const ino = fs.statSync(path.join(repo, '.git')).ino;
      const evil = evilTwin(repo, id);
      fs.writeFileSync(path.join(repo, 'src/hook.sh'), `[ -d .git-moved ] || { ${swap(evil)}; }\n`);
      fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
      const r = run('B');
      expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
      expect(String(r.json?.reason)).toMatch(/\.git\b/);
      expect(fs.lstatSync(path.join(repo, '.git')).isDirectory()).toBe(true);
      expect(fs.statSync(path.join(repo, '.git')).ino).toBe(ino);
      expect(fs.existsSync(path.join(repo, '.git-moved'))).toBe(false);
      expect(fs.readdirSync(repo).filter((n) => n.startsWith('.git.autoloop-forged'))).toHaveLength(1);
      expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
      fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
      fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
      expect(run('C').json).toMatchObject({ verdict: 'keep' });
      expect(fs.readFileSync(path.join(repo, '.git/refs/heads/autoloop/exp'), 'utf8').trim()).toBe(git(repo, 'rev-parse', 'autoloop/exp'));
      expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('30');
      const fin = engine('finalize', ['--json'], repo);
      expect(fin.code, fin.stderr).toBe(0);
      expect(git(repo, 'show', 'autoloop/exp-final~1:src/v')).toBe('40');
    });
  }

  it('by a benchmark whose engine is then killed: the next call finds .git where it was moved and puts it back', async () => {
    const repo = kept();
    const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
    const id = git(repo, 'rev-parse', 'HEAD:src/v');
    const ino = fs.statSync(path.join(repo, '.git')).ino;
    const evil = evilTwin(repo, id);
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `[ -d .git-moved ] || { mv .git .git-moved && ln -s ${evil} .git; touch .attacked; sleep 60; }\n`);
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    const child = engineAsync('run-experiment', ['--json'], repo);
    for (let i = 0; !fs.existsSync(path.join(repo, '.attacked')); i++) {
      expect(i, 'the benchmark never attacked').toBeLessThan(6000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    fs.rmSync(path.join(repo, '.attacked'));
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr + repair.stdout).toMatch(/put back \.git from \.git-moved/);
    expect(fs.lstatSync(path.join(repo, '.git')).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(repo, '.git')).ino).toBe(ino);
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    const r = run('C');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
    expect(fs.readFileSync(path.join(repo, '.git/refs/heads/autoloop/exp'), 'utf8').trim()).toBe(git(repo, 'rev-parse', 'autoloop/exp'));
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('30');
  });
});
