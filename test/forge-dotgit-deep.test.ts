// A benchmark that moves the repository's `.git` below the top of the tree (src/deep/.git), and whose
// engine is then killed: the next call finds it there and puts it back (dot-git.ts, a bounded search),
// also from under a fresh repository put in its place;
// moved deeper than the search looks, every call refuses with the command that finds it, and once it is
// put back by hand the loop goes on. Real engine, real git.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, engineAsync, git, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

async function killedMidAttack(repo: string, to: string, after = ':'): Promise<void> {
  fs.writeFileSync(path.join(repo, 'src/hook.sh'), `[ -d ${to} ] || { mkdir -p ${path.dirname(to)} && mv .git ${to} && ${after}; touch .attacked; sleep 60; }\n`);
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
}

function loop(): { repo: string; ino: number; run: (d: string) => ReturnType<typeof engine> } {
  const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
  expect(init.code, init.stderr).toBe(0);
  const run = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
  expect(run('baseline').json).toMatchObject({ verdict: 'keep' });
  return { repo, ino: fs.statSync(path.join(repo, '.git')).ino, run };
}

describe("the repository's .git moved below the tree's top by a benchmark whose engine is then killed", () => {
  it('into src/deep/.git: the next call finds it and puts it back', async () => {
    const { repo, ino, run } = loop();
    await killedMidAttack(repo, 'src/deep/.git');
    expect(fs.existsSync(path.join(repo, '.git'))).toBe(false);
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr + repair.stdout).toMatch(/put back \.git from src\/deep\/\.git/);
    expect(fs.statSync(path.join(repo, '.git')).ino).toBe(ino);
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    const r = run('C');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('30');
  });

  it('into src/deep/.git with a fresh repository (git init) in its place: the impostor is set aside, the real one put back', async () => {
    const { repo, ino, run } = loop();
    await killedMidAttack(repo, 'src/deep/.git', 'git init -q');
    expect(fs.statSync(path.join(repo, '.git')).ino).not.toBe(ino);
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr + repair.stdout).toMatch(/put back \.git from src\/deep\/\.git/);
    expect(fs.statSync(path.join(repo, '.git')).ino).toBe(ino);
    expect(fs.existsSync(path.join(repo, '.git.autoloop-forged', 'HEAD'))).toBe(true);
    fs.rmSync(path.join(repo, '.git.autoloop-forged'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(run('C').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('30');
  });

  it('deeper than the search looks: refused with the command that finds it; put back by hand, the loop goes on', async () => {
    const { repo, ino, run } = loop();
    const deep = 'src/a/b/c/d/e/f/g/h/i/.git';
    await killedMidAttack(repo, deep);
    const refused = engine('control', ['repair'], repo);
    expect(refused.code).not.toBe(0);
    const line = refused.stderr.trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain(`find ${repo} -xdev -type d -inum ${ino}`);
    // The command it names finds it.
    const found = execFileSync('find', [repo, '-xdev', '-type', 'd', '-inum', String(ino)], { encoding: 'utf8' }).trim();
    expect(found).toBe(path.join(repo, deep));
    fs.renameSync(found, path.join(repo, '.git'));
    fs.rmSync(path.join(repo, 'src/a'), { recursive: true, force: true });
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(run('C').json).toMatchObject({ verdict: 'keep' });
  });
});
