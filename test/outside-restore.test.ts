// Issue 11, class 2: a file outside the scope that the benchmark runs (a
// scorer, not named on its command line, so no judge) rewritten by the code
// under test into a forger that prints its METRIC line and puts its own bytes
// back. git status compares bytes and sees nothing; the file's ctime does.
// Real engine, real git repositories, real processes, default containment.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';

const SCORER = "console.log('METRIC score=' + require('fs').readFileSync('src/v', 'utf8').trim());\n";
// The code under test: turns lib/score.js into a forger that restores the scorer's bytes and mtime, refreshes git's index
// (its stat data then matches the file again), then prints 1.
const CHEAT = `const fs = require('fs');
const orig = fs.readFileSync('lib/score.js', 'utf8');
const st = fs.statSync('lib/score.js');
fs.writeFileSync('lib/score.js', \`const fs = require('fs'); fs.writeFileSync(__filename, \${JSON.stringify(orig)}); fs.utimesSync(__filename, \${st.atimeMs / 1000}, \${st.mtimeMs / 1000}); require('child_process').execFileSync('git', ['update-index', '-q', '--refresh']); console.log('METRIC score=1');\`);
`;

const run = (repo: string) => engine('run-experiment', ['--json'], repo).json as Record<string, unknown>;
const log = (repo: string, d: string) => engine('log-experiment', ['--description', d, '--json'], repo).json as Record<string, unknown>;

// Above 4,000 index entries the engine asks git which files were written (diff-files), not one lstat each.
const BIG: Record<string, string> = Object.fromEntries(Array.from({ length: 4100 }, (_, i) => [`data/d${i % 41}/f${i}`, `${i}\n`]));
let extra: Record<string, string> = {};

/**
 * The repository (with `extra`) opened and its baseline kept. With the small
 * index, a fresh copy of a per-file template (fromState): no init, baseline
 * run and log per test; git's index is refreshed once, as after a checkout
 * (every file of a copy has new stat data). The big index is built for each
 * test: copying its 4,100 files and their objects costs what building them
 * does, and the engine's scans of them stay either way.
 */
function baseline(): string {
  if (Object.keys(extra).length > 0) return build();
  const repo = fromState('baseline', build);
  git(repo, 'update-index', '-q', '--refresh');
  return repo;
}

function build(): string {
  const repo = makeRepo({ 'bench.sh': 'node src/prog.js\nnode lib/score.js\n', 'lib/score.js': SCORER, 'src/prog.js': 'console.log("prog")\n', 'src/v': '10\n', ...extra });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
  expect(init.code).toBe(0);
  expect(run(repo)).toMatchObject({ status: 'ok', primary: 10 });
  expect(log(repo, 'baseline')).toMatchObject({ verdict: 'keep' });
  return repo;
}

for (const [size, files] of Object.entries({ 'a small index': {}, 'a big index': BIG })) describe(`a file outside the scope rewritten and put back during the benchmark (${size})`, () => {
  beforeAll(() => {
    extra = files;
  });

  it('makes the run invalid: the forged metric is never kept, and the next run measures', () => {
    const repo = baseline();
    fs.writeFileSync(path.join(repo, 'src/prog.js'), CHEAT);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/rewrote files outside the scope, then put their bytes back: lib\/score\.js/);
    expect(log(repo, 'forged')).toMatchObject({ verdict: 'invalid', best: 10 });
    expect(fs.readFileSync(path.join(repo, 'lib/score.js'), 'utf8')).toBe(SCORER);
    // Nothing left to poison later runs: an honest change measures.
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 5 });
    expect(log(repo, 'honest')).toMatchObject({ verdict: 'keep', best: 5 });
  });

  it('an edit hidden from git status by assume-unchanged is a change: the run is invalid, no later run measures it, repair puts it back', () => {
    const repo = baseline();
    fs.writeFileSync(path.join(repo, 'src/prog.js'), `require('fs').writeFileSync('lib/score.js', "console.log('METRIC score=1')");
require('child_process').execFileSync('git', ['update-index', '--assume-unchanged', 'lib/score.js']);
`);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/changed files outside the scope: lib\/score\.js/);
    expect(log(repo, 'hidden')).toMatchObject({ verdict: 'invalid' });
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '// a change\n');
    const next = engine('run-experiment', ['--json'], repo);
    expect(next.json?.primary).not.toBe(1);
    expect(next.stderr).toMatch(/lib\/score\.js outside the scope still holds/);
    expect(engine('control', ['repair'], repo).code).toBe(0);
    expect(fs.readFileSync(path.join(repo, 'lib/score.js'), 'utf8')).toBe(SCORER);
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 10 });
  });

  it('a file touched between runs (not by a benchmark) does not spoil the next run', () => {
    const repo = baseline();
    const f = path.join(repo, 'lib/score.js');
    fs.writeFileSync(f, fs.readFileSync(f));
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 5 });
  });
});
