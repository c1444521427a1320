// Files in `.git` that make git see other parents for a commit, planted by the
// code under test: `shallow` (a kept commit made a root; a line git cannot
// parse fails every command that walks history, the engine's included) and the
// deprecated `info/grafts`. Each is put back as the phase found it, the run is
// invalid, and finalize replays the keeps. Real engine, real repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, engineAsync, git, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

describe('history files the code under test plants in .git', () => {
  const call = (repo: string, name: string, args: string[]) => engine(name, [...args, '--json'], repo);
  const start = () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(call(repo, 'run-experiment', ['--description', 'baseline']).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(call(repo, 'run-experiment', ['--description', 'A']).json).toMatchObject({ verdict: 'keep' });
    return repo;
  };

  for (const [what, attack, file] of [
    ['a shallow file naming the kept commit', 'git rev-parse HEAD > .git/shallow', 'shallow'],
    ['a shallow file git cannot parse', 'echo garbage > .git/shallow', 'shallow'],
    ['a graft file making the kept commit a root', 'git rev-parse HEAD > .git/info/grafts', 'info/grafts'],
  ] as const) it(`${what}: the run is invalid, the file put back, and finalize replays every keep`, () => {
    const repo = start();
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${attack}\n`);
    const r = call(repo, 'run-experiment', []);
    expect(r.json, r.stderr).toMatchObject({ status: 'invalid' });
    expect(String(r.json?.reason)).toContain(`.git/${file}`);
    expect(call(repo, 'log-experiment', ['--description', 'B']).json).toMatchObject({ verdict: 'invalid' });
    expect(fs.existsSync(path.join(repo, '.git', file))).toBe(false);
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(call(repo, 'run-experiment', ['--description', 'C']).json).toMatchObject({ verdict: 'keep' });
    const fin = engine('finalize', ['--branch', 'out', '--json'], repo);
    expect(fin.code, fin.stderr).toBe(0);
    expect(git(repo, 'show', 'out:src/v')).toBe('30');
  });

  it("a user's shallow clone keeps its shallow file: a benchmark that removes it has it put back", () => {
    const origin = makeRepo({ 'bench.sh': BENCH, 'src/v': '60\n', 'src/hook.sh': ':\n' });
    fs.writeFileSync(path.join(origin, 'src/v'), '50\n');
    git(origin, 'commit', '-qam', 'second');
    const repo = path.join(path.dirname(origin), `${path.basename(origin)}-clone`);
    git(path.dirname(origin), 'clone', '-q', '--depth', '1', `file://${origin}`, repo);
    const shallow = fs.readFileSync(path.join(repo, '.git/shallow'));
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(call(repo, 'run-experiment', ['--description', 'baseline']).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'rm .git/shallow\n');
    expect(call(repo, 'run-experiment', ['--description', 'A']).json).toMatchObject({ verdict: 'invalid' });
    expect(fs.readFileSync(path.join(repo, '.git/shallow'))).toEqual(shallow);
    git(repo, 'log', '--oneline'); // history reads again: the missing parent is a shallow boundary
    fs.rmSync(repo, { recursive: true, force: true });
  });

  it('an engine killed while its benchmark holds a garbled shallow file: the next call puts it back', async () => {
    const repo = start();
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'echo garbage > .git/shallow; touch .attacked; sleep 60\n');
    const child = engineAsync('run-experiment', ['--json'], repo);
    for (let i = 0; !fs.existsSync(path.join(repo, '.attacked')); i++) {
      expect(i, 'the benchmark never attacked').toBeLessThan(6000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(() => git(repo, 'log', '-1')).toThrow(/shallow/);
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    const next = call(repo, 'run-experiment', ['--description', 'again']);
    expect(next.json, next.stderr).toMatchObject({ verdict: 'keep' });
    expect(next.stderr).toMatch(/\.git\/shallow/);
    expect(git(repo, 'show', 'HEAD:src/v')).toBe('30');
  });
});
