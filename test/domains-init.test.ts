// What init tells a user setting up a domain loop, through the bundled engine
// on real git repositories: the evaluation code in the scope is named in a
// warning whether or not the commands name it (the trainer imports it), and a
// scope of tests (a coverage loop) is not mistaken for one; and a log the
// benchmark writes is its output, not a judge.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HANG_GUARD = { timeout: 600_000 };

const ML = {
  'train.py': "import evaluate\nprint('val_loss: 1.0')\n",
  'evaluate.py': 'def val_loss(w):\n    return (w - 3) ** 2\n',
  'model.py': 'W = 0\n',
};
const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';

function init(files: Record<string, string>, args: string[]) {
  const repo = makeRepo(files);
  return engine('init-experiment', ['--name', 'd', '--json', ...args], repo);
}

describe('init warns of the evaluation code in the scope', HANG_GUARD, () => {
  it('names an evaluation module the trainer imports, listed or globbed into the scope', () => {
    for (const scope of [['--scope', 'train.py', '--scope', 'evaluate.py'], ['--scope', '*.py']]) {
      const r = init(ML, ['--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--source', REGEX, ...scope]);
      expect(r.code, r.stderr).toBe(0);
      const warnings = r.json?.warnings as string[];
      expect(warnings.filter((w) => w.includes('like evaluation code')), scope.join(' ')).toEqual([
        'evaluate.py looks like evaluation code and is in the scope: the loop could change how it is graded; narrow --scope or --protect it',
      ]);
    }
  });

  it('says nothing when the evaluation is protected or out of the scope, nor of the tests a coverage loop writes', () => {
    const out = init(ML, ['--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--source', REGEX, '--scope', 'train.py', '--scope', 'model.py']);
    expect(out.json?.warnings).toEqual([]);
    const prot = init(ML, ['--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--source', REGEX, '--scope', '*.py', '--protect', 'evaluate.py']);
    expect(prot.json?.warnings).toEqual([]);
    const cov = init({ 'cov.js': "console.log('METRIC lines_pct=1')\n", 'test/a.test.js': '\n', 'test/b.spec.js': '\n' }, ['--metric', 'lines_pct', '--direction', 'higher', '--command', 'node cov.js', '--scope', 'test/**']);
    expect(cov.json?.warnings).toEqual([]);
  });
});

// A karpathy-style loop: the benchmark writes the training's log and reads the
// metric back from it. The log a manual trial run left before init is the
// benchmark's output, not a judge: never read-only, never "changed", never read stale.
const KP_TRAIN = (lr: number) => `import prepare\nLR = ${lr}\nw = 0.0\nfor i in range(10): w -= LR * 2 * (w - 3)\nprint(f"val_bpb: {prepare.evaluate(w):.6f}")\n`;

describe('a benchmark that writes its own log and reads it back', HANG_GUARD, () => {
  for (const command of ["python3 train.py > run.log 2>&1; grep '^val_bpb:' run.log", 'python3 train.py 2>&1 | tee train.log']) {
    it(`measures every run afresh, a log left before init notwithstanding: ${command}`, () => {
      const log = command.includes('tee') ? 'train.log' : 'run.log';
      const repo = makeRepo({ 'train.py': KP_TRAIN(0.1), 'prepare.py': 'def evaluate(w):\n    return (w - 3) ** 2 + 0.5\n', '.gitignore': `${log}\n__pycache__/\n` });
      // The user tried the command once by hand: its log is there, with an old figure.
      fs.writeFileSync(path.join(repo, log), 'val_bpb: 0.123456\n');
      const init = engine('init-experiment', ['--name', 'kp', '--metric', 'val_bpb', '--direction', 'lower', '--command', command, '--scope', 'train.py', '--protect', 'prepare.py', '--source', 'regex:val_bpb=^val_bpb: ([0-9.eE+-]+)', '--repeats', '1', '--json'], repo);
      expect(init.code, init.stderr).toBe(0);
      expect(init.json).toMatchObject({ protect: ['prepare.py'], mutable: ['train.py'] });
      const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo).json;
      expect(base).toMatchObject({ status: 'ok', verdict: 'keep' });
      expect(base?.primary as number).toBeCloseTo((3 * 0.8 ** 10) ** 2 + 0.5, 5);
      fs.writeFileSync(path.join(repo, 'train.py'), KP_TRAIN(0.2));
      const better = engine('run-experiment', ['--description', 'lr 0.2', '--json'], repo).json;
      expect(better).toMatchObject({ status: 'ok', verdict: 'keep' });
      expect(better?.primary as number).toBeCloseTo((3 * 0.6 ** 10) ** 2 + 0.5, 5);
    });
  }
});

// The user tried the command by hand before init (as one does): the result
// file a source reads and the checkpoint declared as artifacts are there. The
// command names them, but they are what it writes, not what judges it.
const WRITER = `const fs = require('node:fs');
const v = Number(fs.readFileSync('v.txt', 'utf8'));
const arg = (k) => process.argv[process.argv.indexOf(k) + 1];
fs.writeFileSync(arg('--export-json'), JSON.stringify({ results: [{ command: 'x', mean: v, times: [v, v, v] }] }));
fs.mkdirSync('ckpt', { recursive: true });
fs.writeFileSync(arg('--ckpt'), JSON.stringify({ v }));
`;

describe('a result file and a checkpoint the command names', HANG_GUARD, () => {
  it('are its output, not judges, when a trial run left them before init', () => {
    const repo = makeRepo({ 'w.js': WRITER, 'v.txt': '0.5\n', '.gitignore': 'hf.json\nckpt/\n' });
    fs.mkdirSync(path.join(repo, 'ckpt'));
    fs.writeFileSync(path.join(repo, 'hf.json'), '{"results": [{"command": "x", "mean": 9, "times": [9]}]}');
    fs.writeFileSync(path.join(repo, 'ckpt/m.json'), '{"v": 9}');
    const init = engine('init-experiment', ['--name', 'h', '--metric', 't', '--direction', 'lower', '--command', 'node w.js --export-json hf.json --ckpt ckpt/m.json', '--scope', 'v.txt', '--source', 'hyperfine:hf.json:t', '--artifacts', 'ckpt/**', '--repeats', '1', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json).toMatchObject({ protect: ['w.js'] });
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 0.5 });
    fs.writeFileSync(path.join(repo, 'v.txt'), '0.25\n');
    expect(engine('run-experiment', ['--description', 'halve it', '--json'], repo).json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 0.25 });
    expect(fs.readFileSync(path.join(repo, 'ckpt/m.json'), 'utf8')).toBe('{"v":0.25}');
  });

  it('never frees a tracked file an artifacts glob takes in: the benchmark stays a judge', () => {
    const repo = makeRepo({ 'bench.js': "console.log('METRIC t=' + require('fs').readFileSync('v.txt', 'utf8'))\n", 'v.txt': '1\n' });
    const init = engine('init-experiment', ['--name', 'a', '--metric', 't', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'v.txt', '--artifacts', '*.js', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json).toMatchObject({ protect: ['bench.js'] });
  });
});

// A coverage loop guarded on branches: a summary of code with no branches
// gives no branches_pct (coverage source), so the guardrail would guard nothing
// for the whole segment. The baseline says so, once, where the model reads it.
const COV = `const fs = require('node:fs');
const n = (fs.readFileSync('test/a.test.js', 'utf8').match(/it\\(/g) || []).length;
fs.mkdirSync('coverage', { recursive: true });
fs.writeFileSync('coverage/coverage-summary.json', JSON.stringify({ total: { lines: { total: 4, covered: n }, branches: { total: 0, covered: 0 } } }));
`;

describe('a guardrail the baseline does not measure', HANG_GUARD, () => {
  it('is named in the baseline\'s warnings, and not in a later run\'s', () => {
    const repo = makeRepo({ 'cov.js': COV, 'test/a.test.js': '// none yet\n', '.gitignore': 'coverage/\n' });
    const init = engine('init-experiment', ['--name', 'c', '--metric', 'lines_pct', '--direction', 'higher', '--command', 'node cov.js', '--scope', 'test/**', '--source', 'coverage:coverage/coverage-summary.json', '--guardrail', 'branches_pct:higher:0', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo).json;
    expect(base).toMatchObject({ verdict: 'keep' });
    expect(base?.warnings).toEqual([expect.stringMatching(/^guardrail branches_pct: the baseline did not measure it, so it guards nothing this segment/)]);
    fs.writeFileSync(path.join(repo, 'test/a.test.js'), 'it(1)\n');
    const next = engine('run-experiment', ['--description', 'one test', '--json'], repo).json;
    expect(next).toMatchObject({ verdict: 'keep' });
    expect(next?.warnings).toBeUndefined();
  });
});

// A coverage or lint loop under the default --repeats auto: the figures the
// coverage and JUnit sources give, and lint counts, are counts and
// percentages, not timings: a few identical values prove the benchmark
// deterministic (3 baseline invocations, 1 per candidate), as for sizes,
// instead of the 8 and 2 a timing needs (each one a whole test-suite run).
describe('the invocations a deterministic coverage or lint loop costs', HANG_GUARD, () => {
  for (const [metric, source, unit] of [
    ['branches_pct', 'coverage:coverage/coverage-summary.json', []],
    ['statements_pct', 'coverage:coverage/coverage-summary.json', ['--unit', '%']],
    ['problems', 'regex:problems=(\\d+) problems', []],
  ] as const) {
    it(`${metric}: 3 at the baseline, 2 for a change (3 equal runs are thin proof: a changed value is read twice)`, () => {
      // In shell (the sample count is under test, not the benchmark: no Node start per sample): the
      // tests are the lines calling it(, the summary covers as many of 4 lines, the rest are problems.
      const bench = `n=0; while IFS= read -r l; do case "$l" in *'it('*) n=$((n + 1)) ;; esac; done < test/a.test.js
mkdir -p coverage
p="{\\"total\\":4,\\"covered\\":$n}"
echo "{\\"total\\":{\\"lines\\":$p,\\"branches\\":$p,\\"statements\\":$p}}" > coverage/coverage-summary.json
echo "$((4 - n)) problems"
`;
      const repo = makeRepo({ 'cov.sh': bench, 'test/a.test.js': 'it(0)\n', '.gitignore': 'coverage/\n' });
      const init = engine('init-experiment', ['--name', 'c', '--metric', metric, '--direction', metric === 'problems' ? 'lower' : 'higher', '--command', 'sh cov.sh', '--scope', 'test/**', '--source', source, ...unit], repo);
      expect(init.code, init.stderr).toBe(0);
      expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', samples: 3 });
      fs.writeFileSync(path.join(repo, 'test/a.test.js'), 'it(0)\nit(1)\n');
      expect(engine('run-experiment', ['--description', 'one more test', '--json'], repo).json).toMatchObject({ verdict: 'keep', samples: 2 });
    });
  }
});

// The best kept no copy of its checkpoint (over artifacts_max_mb): after a
// discard the tree must not go on holding the discarded run's checkpoint as
// if it were the best's. It is moved aside like any file a revert takes away,
// and the log says so.
describe('a discard when the best kept no artifacts', HANG_GUARD, () => {
  it('moves the discarded run\'s checkpoint out of the tree and says why', () => {
    const train = (lr: number) => `import os, json\nw = 0.0\nfor i in range(10): w -= ${lr} * 2 * (w - 3)\nos.makedirs('ckpt', exist_ok=True)\njson.dump({'w': w}, open('ckpt/model.json', 'w'))\nprint(f"val_loss: {(w-3)**2 + 0.1:.6f}")\n`;
    const repo = makeRepo({ 'train.py': train(0.1), '.gitignore': 'ckpt/\n' });
    const init = engine('init-experiment', ['--name', 'm', '--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--scope', 'train.py', '--artifacts', 'ckpt/**', '--artifacts-max-mb', '0.00001', '--source', 'regex:val_loss=val_loss: ([0-9.eE+-]+)', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'train.py'), train(0.05));
    const worse = engine('run-experiment', ['--description', 'lower the learning rate'], repo);
    expect(worse.stdout).toMatch(/DISCARD/);
    expect(fs.existsSync(path.join(repo, 'ckpt/model.json'))).toBe(false);
    expect(fs.existsSync(path.join(repo, '.autoloop/experiments/m/rescued/r0002/ckpt/model.json.autoloop-copy'))).toBe(true);
    expect(worse.stdout).toMatch(/^artifacts: the best \(r0001\) kept none, so the tree holds none; this run's moved to \.autoloop\/experiments\/m\/rescued\/r0002\/: "ckpt\/model\.json"$/m);
  });
});

// A prompt loop whose runner writes its answers to a file the judge then reads:
// the command names out/answers.txt, a trial run left it, and nothing tells
// the engine it is an output. It is judged (read-only while the benchmark
// runs), so init says so and how to avoid it, rather than let the first run crash.
describe('an untracked file the commands name', HANG_GUARD, () => {
  it('is named in a warning: judged, so a benchmark that writes it fails', () => {
    const repo = makeRepo({
      'run_prompt.py': 'import sys\np = open("prompt.txt").read()\nopen(sys.argv[sys.argv.index("--out") + 1], "w").write(p)\n',
      'judge.py': 'import sys\nprint(f"METRIC score={len(open(sys.argv[1]).read())}")\n',
      'prompt.txt': 'hello\n',
      '.gitignore': 'out/\n',
    });
    fs.mkdirSync(path.join(repo, 'out'));
    fs.writeFileSync(path.join(repo, 'out/answers.txt'), 'hello\n');
    const init = engine('init-experiment', ['--name', 'p', '--metric', 'score', '--direction', 'higher', '--command', 'python3 run_prompt.py --out out/answers.txt && python3 judge.py out/answers.txt', '--scope', 'prompt.txt', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json?.protect).toEqual(['judge.py', 'out/answers.txt', 'run_prompt.py']);
    expect(init.json?.warnings).toEqual([
      'out/answers.txt: named by the commands and not tracked by git, so judged as their input (read-only while they run): if the benchmark writes it, remove it and run init-experiment again (or read it with --source, or declare it with --artifacts)',
    ]);
  });
});

describe('the benchmark setup writes under .autoloop/', HANG_GUARD, () => {
  it('is judged without a warning, untracked as it is', () => {
    const repo = makeRepo({ 'v.txt': '1\n' });
    fs.mkdirSync(path.join(repo, '.autoloop'));
    fs.writeFileSync(path.join(repo, '.autoloop/bench.sh'), 'echo "METRIC t=$(cat v.txt)"\n');
    const init = engine('init-experiment', ['--name', 'b', '--metric', 't', '--direction', 'lower', '--command', 'bash .autoloop/bench.sh', '--scope', 'v.txt', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json).toMatchObject({ protect: ['.autoloop/bench.sh'], warnings: [] });
  });
});

// The coverage and JUnit sources give figures whose better direction is
// known: a coverage loop set to `lower`, or a test-count guardrail set to
// `lower`, would keep changes that drop coverage or tests. Init says so.
describe('a direction contrary to what a source\'s figure means', HANG_GUARD, () => {
  it('is named in a warning, for the primary and for a guardrail', () => {
    const repo = makeRepo({ 'cov.js': '\n', 'test/a.test.js': '\n', '.gitignore': 'coverage/\n' });
    const init = engine('init-experiment', ['--name', 'c', '--metric', 'lines_pct', '--direction', 'lower', '--command', 'node cov.js', '--scope', 'test/**', '--source', 'coverage:coverage/coverage-summary.json', '--source', 'junit:coverage/junit.xml', '--guardrail', 'tests:lower:0', '--guardrail', 'failures:lower:limit=0', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json?.warnings).toEqual([
      'lines_pct (coverage) is better higher, but --direction is lower: the loop would keep changes that lower it',
      'guardrail tests (junit) is better higher, but it says lower: it would let it fall and refuse a rise',
    ]);
    const right = engine('init-experiment', ['--name', 'd', '--metric', 'lines_pct', '--direction', 'higher', '--command', 'node cov.js', '--scope', 'test/**', '--source', 'coverage:coverage/coverage-summary.json', '--source', 'junit:coverage/junit.xml', '--guardrail', 'tests:higher:0', '--json'], repo);
    expect(right.json?.warnings).toEqual([]);
  });
});
