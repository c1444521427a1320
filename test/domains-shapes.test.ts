// Loops whose mutable thing is not source code, set up as a user would (the
// documented init-experiment flags) in fresh repositories: a prompt, a nested
// training config, a scope with a `!` exclusion, a benchmark behind `make` or
// `npm run`, caches written outside the scope, metrics read from JSON and CSV.
// One walk per shape: init gives the expected scope/judge split, the baseline
// runs, an in-scope edit is kept (alone), the hook and the engine refuse an
// edit to a judge, and the run's own outputs are never outside changes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, engine, git, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const HANG_GUARD = { timeout: 600_000 };

interface Shape {
  files: Record<string, string>;
  args: string[];
  split: { protect: string[]; mutable: string[] };
  /** An in-scope edit that improves the metric. */
  edit: [string, string];
  /** A judge the loop must not change. */
  judge: string;
  /** What the user did by hand before init (a trial run). */
  before?: (repo: string) => void;
}

/** What the PreToolUse hook answers to an Edit of this file (the deny reason, or '' when it lets it through). */
function hookOnEdit(repo: string, rel: string): string {
  const input = JSON.stringify({
    session_id: 's', transcript_path: path.join(repo, '..', 't.jsonl'), cwd: repo, hook_event_name: 'PreToolUse',
    tool_name: 'Edit', tool_input: { file_path: path.join(repo, rel), old_string: 'a', new_string: 'b' }, tool_use_id: 't',
  });
  const r = spawnSync('sh', [path.join(ROOT, 'hooks', 'run.sh'), 'pre-tool-use'], {
    input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpDir('autoloop-home-'), CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: repo },
  });
  expect(r.status, r.stderr).toBe(0);
  if (r.stdout.trim() === '') return '';
  const out = JSON.parse(r.stdout) as { hookSpecificOutput?: { permissionDecision: string; permissionDecisionReason: string } };
  return out.hookSpecificOutput?.permissionDecision === 'deny' ? out.hookSpecificOutput.permissionDecisionReason : '';
}

const run = (repo: string, description: string) => engine('run-experiment', ['--description', description, '--json'], repo).json ?? {};

function walk(s: Shape): string {
  const repo = makeRepo(s.files);
  s.before?.(repo);
  const init = engine('init-experiment', ['--name', 's', '--repeats', '1', '--json', ...s.args], repo);
  expect(init.code, init.stderr).toBe(0);
  // Every judge, the absent ones included, as the hooks hold them; init's own answer names those there and counts the rest.
  const guarded = (JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/active.json'), 'utf8')) as { protect: string[] }).protect;
  expect({ protect: guarded, mutable: init.json?.mutable }).toEqual(s.split);
  const there = s.split.protect.filter((p) => fs.existsSync(path.join(repo, p)));
  expect({ protect: init.json?.protect, absent: init.json?.protect_absent }).toEqual({ protect: there, absent: s.split.protect.length - there.length });
  expect(init.json?.warnings).toEqual([]);

  const base = run(repo, 'baseline');
  expect(base).toMatchObject({ status: 'ok', verdict: 'keep' });
  expect(base.warnings).toBeUndefined();

  fs.writeFileSync(path.join(repo, s.edit[0]), s.edit[1]);
  const kept = run(repo, 'in-scope edit');
  expect(kept).toMatchObject({ status: 'ok', verdict: 'keep' });
  expect(kept.warnings).toBeUndefined();
  expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe(s.edit[0]);

  expect(hookOnEdit(repo, s.edit[0])).toBe('');
  expect(hookOnEdit(repo, s.judge)).toMatch(new RegExp(`^autoloop: ${s.judge.replace(/[.*]/g, '\\$&')} is protected`));
  const judged = fs.readFileSync(path.join(repo, s.judge), 'utf8');
  fs.appendFileSync(path.join(repo, s.judge), '\n');
  const refused = run(repo, 'judge edit');
  expect(refused).toMatchObject({ status: 'invalid', restored_judges: [s.judge] });
  expect(fs.readFileSync(path.join(repo, s.judge), 'utf8')).toBe(judged);

  // The runs' own outputs (checkpoints, logs, caches, result files) are never outside changes.
  const again = run(repo, 'again');
  expect(again).toMatchObject({ status: 'ok' });
  expect(again.warnings).toBeUndefined();
  return repo;
}

const SCORE_SH = 'n=$(wc -w < prompt.md); c=$(wc -l < evals/cases.csv)\necho "METRIC score=$((n * c))"\n';

const TRAIN_SH = `w=$(awk -F': *' '/^lr:/{lr=$2} /^steps:/{n=$2} END{w=0; for(i=0;i<n;i++) w-=lr*2*(w-3); printf "%.6f", w}' conf/train.yaml)
mkdir -p checkpoints logs
echo "$w" > checkpoints/last.txt
echo "w=$w" >> logs/train.log
awk -v w="$w" 'BEGIN{printf "val_loss: %.6f\\n", (w-3)^2+0.1}'
`;

const VALUE_SH = 'echo "METRIC t=$(cat src/value.txt)"\n';

describe('loops over things that are not code', HANG_GUARD, () => {
  it('a prompt in the repository root, graded against evaluation data that stays judged', () => {
    walk({
      files: { 'prompt.md': 'Be brief.\n', 'evals/cases.csv': 'q1,a\nq2,b\n', 'score.sh': SCORE_SH },
      args: ['--metric', 'score', '--direction', 'higher', '--command', 'sh score.sh', '--scope', 'prompt.md', '--protect', 'evals/**'],
      split: { protect: ['evals/cases.csv', 'score.sh'], mutable: [] },
      edit: ['prompt.md', 'Be brief and kind.\n'],
      judge: 'evals/cases.csv',
    });
  });

  it('a nested training config, the training writing checkpoints (ignored) and logs (not ignored) into the repository', () => {
    const repo = walk({
      files: { 'conf/train.yaml': 'lr: 0.1\nsteps: 10\n', 'train.sh': TRAIN_SH, '.gitignore': 'checkpoints/\n' },
      args: ['--metric', 'val_loss', '--direction', 'lower', '--command', 'sh train.sh', '--scope', 'conf/train.yaml', '--source', 'regex:val_loss=val_loss: ([0-9.eE+-]+)', '--artifacts', 'checkpoints/**'],
      split: { protect: ['train.sh'], mutable: [] },
      edit: ['conf/train.yaml', 'lr: 0.2\nsteps: 10\n'],
      judge: 'train.sh',
    });
    expect(fs.existsSync(path.join(repo, '.autoloop/experiments/s/runs/r0002/artifacts/checkpoints/last.txt'))).toBe(true);
  });

  it('a scope with a ! exclusion, naming the file the command names', () => {
    walk({
      files: { 'prompts/system.md': 'Be brief.\n', 'prompts/eval/cases.txt': 'q1\nq2\n', 'run.sh': 'n=$(wc -w < "$1"); c=$(wc -l < prompts/eval/cases.txt)\necho "METRIC score=$((n * c))"\n' },
      args: ['--metric', 'score', '--direction', 'higher', '--command', 'sh run.sh prompts/system.md', '--scope', 'prompts/**', '--scope', '!prompts/eval/**', '--protect', 'prompts/eval/**'],
      split: { protect: ['prompts/eval/cases.txt', 'run.sh'], mutable: ['prompts/system.md'] },
      edit: ['prompts/system.md', 'Be brief and kind.\n'],
      judge: 'prompts/eval/cases.txt',
    });
  });

  // Without the task runners followed (task-runners.ts), nothing judged these loops: protect was [].
  it('a benchmark that is a make target: the Makefile and the script its recipe runs are judges', () => {
    walk({
      files: { 'src/value.txt': '5\n', 'bench/run.sh': VALUE_SH, Makefile: '.PHONY: score\nscore: bench/run.sh\n\t@sh bench/run.sh\n' },
      args: ['--metric', 't', '--direction', 'lower', '--command', 'make -s score', '--scope', 'src/value.txt'],
      // GNUmakefile and makefile, absent, are judges too: make would read either before the Makefile
      split: { protect: ['GNUmakefile', 'Makefile', 'bench/run.sh', 'makefile'], mutable: [] },
      edit: ['src/value.txt', '4\n'],
      judge: 'bench/run.sh',
    });
  });

  // A trial `make` left the build's output: named by a recipe, it is what make writes, not a judge
  // (judged, the first rebuild would fail to write it).
  it('a make target with a build step a trial run already made: the built file is not a judge', () => {
    const makefile = '.PHONY: score\nscore: build/app\n\t@./build/app\nbuild/app: src/gen.sh\n\tmkdir -p build && cp src/gen.sh build/app && chmod +x build/app\n';
    const files = { 'src/gen.sh': '#!/bin/sh\necho "METRIC t=5"\n', Makefile: makefile, '.gitignore': 'build/\n' };
    const repo = walk({
      files,
      args: ['--metric', 't', '--direction', 'lower', '--command', 'make -s score', '--scope', 'src/**'],
      split: { protect: ['GNUmakefile', 'Makefile', 'makefile'], mutable: ['src/gen.sh'] },
      edit: ['src/gen.sh', '#!/bin/sh\necho "METRIC t=4"\n'],
      judge: 'Makefile',
      before: (dir) => spawnSync('make', ['-s', 'build/app'], { cwd: dir }),
    });
    expect(fs.readFileSync(path.join(repo, 'build/app'), 'utf8')).toContain('t=4');
  });

  it('a benchmark that is an npm script: package.json and what the script runs are judges', () => {
    walk({
      files: { 'src/value.txt': '5\n', 'bench/run.sh': VALUE_SH, 'package.json': '{"name": "x", "version": "1.0.0", "scripts": {"bench": "sh bench/run.sh"}}\n' },
      args: ['--metric', 't', '--direction', 'lower', '--command', 'npm run -s bench', '--scope', 'src/**'],
      // .npmrc, absent, is a judge too: its script-shell would run the script
      split: { protect: ['.npmrc', 'bench/run.sh', 'package.json'], mutable: [] },
      edit: ['src/value.txt', '4\n'],
      judge: 'package.json',
    });
  });

  it('a benchmark that writes caches outside the scope (ignored or not) and its metrics to JSON and CSV files', () => {
    const bench = `v=$(cat src/value.txt)
mkdir -p __pycache__ .pytest_cache node_modules/.cache .cache results
echo "$v" > __pycache__/m.pyc; echo "$v" > .pytest_cache/lastfailed; echo "$v" > node_modules/.cache/x; echo "$v" > .cache/y
echo "{\\"metrics\\": {\\"loss\\": $v}}" > results/out.json
printf 'step,acc\\n1,0.1\\n2,0.%s\\n' "$v" > results/m.csv
`;
    walk({
      files: { 'src/value.txt': '5\n', 'bench.sh': bench, '.gitignore': 'node_modules/\n__pycache__/\n' },
      args: ['--metric', 'loss', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--source', 'json:results/out.json:loss=metrics.loss', '--source', 'csv:results/m.csv:acc=acc', '--guardrail', 'acc:higher:50'],
      split: { protect: ['bench.sh'], mutable: [] },
      edit: ['src/value.txt', '4\n'],
      judge: 'bench.sh',
    });
  });
});
