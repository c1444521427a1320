// Issue 11 classes 2 and 4 over issue 13: the best is re-measured in a git
// worktree of its own (best-tree.ts), whose git dir (.git/worktrees/<name>/:
// HEAD, index, config.worktree) lies under `.git`, writable to the code under
// test under every containment, the read-only one included. A candidate that
// writes it would have the best measured in a tree git reads otherwise (or
// cannot read: every later re-measure of the best fails, a loop stuck).
// Real engine, real git repositories, real processes.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, fromTemplate, git, makeRepo } from './helpers/engine.ts';
import { bestTree, EXP } from './helpers/best-tree.ts';

/**
 * helpers/best-tree.ts's noisy benchmark (src/v with 3% noise, so that the best
 * is measured beside the candidate) in shell: it asks git for its HEAD, as
 * build tools do, and runs the code under test, src/prog.js, with Node only
 * when it holds code (the attacks): the no-op versions (blank lines and
 * comments) cost no Node start per sample. mawk's srand takes seeds below 2^31.
 */
const BENCH = `git rev-parse --verify HEAD >/dev/null 2>&1 || { echo 'git cannot read HEAD here' >&2; exit 1; }
grep -Eqv '^[[:space:]]*(//.*)?$' src/prog.js && { node src/prog.js || exit 1; }
read -r v < src/v
awk -v v="$v" -v seed="$(od -An -N4 -tu4 /dev/urandom)" 'BEGIN { srand(seed % 2147483647); u = 1 - rand(); w = rand(); printf "METRIC score=%.6f\\n", v * (1 + 0.03 * sqrt(-2 * log(u)) * cos(6.283185307179586 * w)) }'
`;
const gitDirOf = (tree: string) => fs.readFileSync(path.join(tree, '.git'), 'utf8').replace(/^gitdir: /, '').trim();
/** The code under test, run by the benchmark as the candidate (in the main tree): writes `file` of the best's worktree git dir. */
const attack = (file: string, text: string) => `const fs = require('fs'), path = require('path');
if (!process.cwd().includes('/.autoloop/')) {
  const exp = path.join(process.cwd(), '${EXP}');
  const tree = path.join(exp, 'best', JSON.parse(fs.readFileSync(path.join(exp, 'best.json'), 'utf8')).tree);
  const gd = fs.readFileSync(path.join(tree, '.git'), 'utf8').replace(/^gitdir: /, '').trim();
  fs.writeFileSync(path.join(gd, '${file}'), ${JSON.stringify(text)});
}
`;

const MODES: Record<string, Record<string, string>> = {
  readonly: {},
  group: { AUTOLOOP_CONTAINMENT: 'group' },
};

/**
 * A copy of the repository after init and a kept baseline under `env`, built once per file and
 * containment (fromTemplate: no best tree yet, so nothing in it names its own path). `--repeats 2`:
 * the subject is the best's tree, not the sampling; two pairs still measure the best beside the
 * candidate (the best's tree is built and used), at a fraction of the samples `auto` takes for a
 * 3% noise (12 for a baseline, up to 26 for a candidate, each a node start).
 */
const baselined = (env: Record<string, string>): string =>
  fromTemplate(JSON.stringify(['baseline', env]), () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/prog.js': '\n', 'src/v': '100\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '2'], repo, env).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo, env).json).toMatchObject({ status: 'ok' });
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo, env).json).toMatchObject({ verdict: 'keep' });
    return repo;
  });

for (const [mode, env] of Object.entries(MODES)) describe(`the best's worktree git dir (${mode})`, () => {
  const run = (repo: string) => engine('run-experiment', ['--json'], repo, env).json as Record<string, unknown>;
  const log = (repo: string, d: string) => engine('log-experiment', ['--description', d, '--json'], repo, env).json as Record<string, unknown>;
  const start = () => {
    const repo = baselined(env);
    // A first candidate builds the best's tree.
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '\n// a no-op change\n');
    expect(run(repo)).toMatchObject({ status: 'ok' });
    log(repo, 'no-op');
    expect(fs.existsSync(path.join(bestTree(repo), '.git'))).toBe(true);
    return repo;
  };

  for (const [file, text] of [
    ['HEAD', 'garbage\n'],
    ['config.worktree', '[core]\n\tfsmonitor = false\n'],
  ] as const) it(`a candidate that writes the best worktree's ${file} is invalid, and the best is measured in a tree built again`, () => {
    const repo = start();
    const before = bestTree(repo);
    const head = git(repo, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(repo, 'src/prog.js'), attack(file, text));
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(new RegExp(`wrote into the best's tree \\(\\.git/worktrees/[^/]+/${file.replace('.', '\\.')}`));
    expect(log(repo, 'attack')).toMatchObject({ verdict: 'invalid' });
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '\n// another no-op change\n');
    expect(run(repo)).toMatchObject({ status: 'ok' });
    const after = bestTree(repo);
    expect(after).not.toBe(before);
    expect(fs.readFileSync(path.join(gitDirOf(after), 'HEAD'), 'utf8').trim()).toBe(head);
    expect(fs.existsSync(path.join(gitDirOf(after), 'config.worktree'))).toBe(false);
  });
});

describe("a best's worktree whose git dir is gone is built again, never re-measured broken", () => {
  it('git dir pruned between runs (another candidate, a git worktree prune): the next run measures the best again', () => {
    const repo = baselined(MODES.readonly as Record<string, string>); // no env: the default containment, as here
    const run = () => engine('run-experiment', ['--json'], repo).json as Record<string, unknown>;
    const log = (d: string) => engine('log-experiment', ['--description', d, '--json'], repo).json as Record<string, unknown>;
    fs.writeFileSync(path.join(repo, 'src/prog.js'), '\n// a no-op change\n');
    expect(run()).toMatchObject({ status: 'ok' });
    log('no-op');
    const tree = bestTree(repo);
    fs.rmSync(gitDirOf(tree), { recursive: true, force: true });
    for (const d of ['one', 'two']) {
      fs.writeFileSync(path.join(repo, 'src/prog.js'), `\n// change ${d}\n`);
      const r = run();
      expect(r, JSON.stringify(r)).toMatchObject({ status: 'ok' });
      log(d);
    }
    expect(bestTree(repo)).not.toBe(tree);
  });
});
