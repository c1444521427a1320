// Issue 11, class 4: git's index.lock. One left by a git process that no
// longer runs (a crash, a benchmark's git killed at its timeout, or code under
// test that made it) blocked every engine call, and a keep moved the branch
// before failing on it, so the engine then took its own commit for someone
// else's. Real engine, real git repositories, real processes.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo, waitFor } from './helpers/engine.ts';

const BENCH = 'console.log("METRIC score=" + require("fs").readFileSync("src/v", "utf8").trim());\n';
const run = (repo: string) => engine('run-experiment', ['--json'], repo);
const log = (repo: string, d: string) => engine('log-experiment', ['--description', d, '--json'], repo);

function baseline(files: Record<string, string> = {}): string {
  const repo = makeRepo({ 'bench.js': BENCH, 'src/v': '10\n', ...files });
  expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'src/**'], repo).code).toBe(0);
  expect(run(repo).json).toMatchObject({ status: 'ok' });
  expect(log(repo, 'baseline').json).toMatchObject({ verdict: 'keep' });
  return repo;
}

const lock = (repo: string) => path.join(repo, '.git', 'index.lock');
let holder: ChildProcess | null = null;
afterEach(() => {
  if (holder?.pid) process.kill(holder.pid, 'SIGKILL');
  holder = null;
});

describe("git's index.lock", () => {
  it('a lock no process holds (left by a crash) is removed: the keep is committed and the loop goes on', () => {
    const repo = baseline();
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    expect(run(repo).json).toMatchObject({ status: 'ok', primary: 5 });
    fs.writeFileSync(lock(repo), '');
    const l = log(repo, 'five');
    expect(l.json).toMatchObject({ verdict: 'keep' });
    expect(l.stderr).toMatch(/removed .*index\.lock, left by a git process that no longer runs/);
    expect(fs.existsSync(lock(repo))).toBe(false);
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('5');
    expect(git(repo, 'status', '--porcelain')).toBe('');
    fs.writeFileSync(path.join(repo, 'src/v'), '4\n');
    expect(run(repo).json).toMatchObject({ status: 'ok', primary: 4 });
  });

  it('a lock the code under test leaves does not wedge the loop', () => {
    const repo = baseline({ 'src/prog.js': '\n', 'bench.js': `require('./src/prog.js');\n${BENCH}` });
    fs.writeFileSync(path.join(repo, 'src/prog.js'), "require('fs').writeFileSync('.git/index.lock', '');\n");
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    run(repo);
    const l = log(repo, 'lock');
    expect(l.code).toBe(0);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(run(repo).code).toBe(0);
  });

  it('a lock a live git holds stops the keep before the branch moves; once it is gone the loop goes on', async () => {
    const repo = baseline();
    const kept = git(repo, 'rev-parse', 'autoloop/exp');
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    expect(run(repo).json).toMatchObject({ status: 'ok', primary: 5 });
    holder = spawn('sh', ['-c', 'exec 9>.git/index.lock; echo held; exec sleep 600'], { cwd: repo, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    holder.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('held'));
    const l = log(repo, 'five');
    expect(l.stdout + l.stderr).toMatch(/index is locked by a running git process/);
    expect(l.stderr).not.toMatch(/\n\s+at /);
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(kept);
    process.kill(holder.pid as number, 'SIGKILL');
    holder = null;
    // The holder is gone, its lock stays: stale now.
    fs.writeFileSync(path.join(repo, 'src/v'), '4\n');
    const r = run(repo);
    expect(r.stdout + r.stderr).not.toMatch(/outside the loop/);
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(kept);
  });
});
