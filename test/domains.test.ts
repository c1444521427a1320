// The domains beyond fast benchmarks, end to end through the bundled engine on
// real git repositories: an ML-style loop whose mutable file is the one the
// benchmark runs (with a protected evaluation it imports), checkpoints kept as
// artifacts and restored after a discard or crash, evidence behind a
// hypothesis, and a follow-up that starts from the parent's best checkpoint.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, fromTemplate, git, ledger, makeRepo, overriding } from './helpers/engine.ts';

// Many real engine calls in one test: a guard against a hang, not a speed limit (the machine may be loaded).
const HANG_GUARD = { timeout: 600_000 };

const EVAL = `// The protected evaluation: the validation loss of a trained weight.
module.exports = function evaluate(w) { return (w - 3) ** 2 + 0.1; };
`;

/** A trainer: gradient steps towards w = 3 (from the checkpoint when RESUME), a checkpoint, "val_loss: …". */
function trainer(lr: number, opts: { crash?: boolean; resume?: boolean } = {}): string {
  return `const fs = require('node:fs');
const evaluate = require('./eval.js');
const LR = ${lr};
let w = 0;
if (${opts.resume ? 'true' : 'false'} && fs.existsSync('ckpt/model.json')) w = JSON.parse(fs.readFileSync('ckpt/model.json', 'utf8')).w;
fs.mkdirSync('ckpt', { recursive: true });
${opts.crash ? "fs.writeFileSync('ckpt/model.json', 'half-written'); fs.writeFileSync('ckpt/optimizer.bin', 'x'); throw new Error('CUDA out of memory');" : ''}
for (let i = 0; i < 10; i++) w -= LR * 2 * (w - 3);
fs.writeFileSync('ckpt/model.json', JSON.stringify({ w }));
console.log('epoch 1 val_loss: 9.99');
console.log('epoch 2 val_loss: ' + evaluate(w).toFixed(6));
`;
}

const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';
const expDir = (repo: string, slug: string) => path.join(repo, '.autoloop', 'experiments', slug);
const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const ckptW = (file: string) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { w: number }).w;

function mlRepo(lr = 0.1): string {
  return makeRepo({ 'train.js': trainer(lr), 'eval.js': EVAL, '.gitignore': 'ckpt/\n' });
}

/**
 * `--repeats 1`: the trainers are deterministic and these tests are about
 * scope, artifacts and evidence, not sampling. Under `auto` val_loss (not
 * clearly a count) takes 8 identical Node samples at each baseline and 2 per
 * candidate before the engine trusts it deterministic.
 */
function initMl(repo: string, slug = 'ml', extra: string[] = []) {
  return engine(
    'init-experiment',
    overriding(['--name', slug, '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--protect', 'eval.js', '--source', REGEX, '--artifacts', 'ckpt/**', '--repeats', '1', '--json'], extra),
    repo,
  );
}

/**
 * A fresh copy of mlRepo(0.1) after initMl and a kept baseline (its checkpoint
 * in the tree and kept as r0001's artifacts), built once per file
 * (fromTemplate); the test of init and the baseline themselves builds its own.
 */
function mlBaseline(): string {
  return fromTemplate('ml baseline', () => {
    const repo = mlRepo(0.1);
    const init = initMl(repo);
    if (init.code !== 0) throw new Error(`init-experiment failed: ${init.stderr}`);
    const base = step(repo, 'baseline');
    if (base.log.json?.verdict !== 'keep') throw new Error(`the baseline was not kept: ${base.log.stdout}${base.log.stderr}`);
    return repo;
  });
}

function step(repo: string, description: string, train?: string, logArgs: string[] = []) {
  if (train !== undefined) fs.writeFileSync(path.join(repo, 'train.js'), train);
  const run = engine('run-experiment', ['--json'], repo);
  const log = engine('log-experiment', ['--description', description, '--json', ...logArgs], repo);
  return { run, log };
}

describe('an ML loop whose mutable file is the one the benchmark runs', HANG_GUARD, () => {
  it('states mutable and protected files in one line; the hooks protect the evaluation, not the trainer', () => {
    const repo = mlRepo();
    const text = engine('init-experiment', ['--name', 'ml', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--protect', 'eval.js', '--source', REGEX], repo);
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').filter((l) => l.startsWith('mutable:'));
    expect(line).toEqual(['mutable: train.js (run by the commands) · protected (never edit): eval.js']);
    expect(text.stdout).not.toContain('warning');
    const active = JSON.parse(read(repo, '.autoloop/active.json')) as { protect: string[]; scope: string[]; writable: string[] };
    expect(active.protect).toEqual(['eval.js']);
    expect(active.scope).toEqual(['train.js']);
    expect(active.writable).toContain('.autoloop/experiments/ml/scratch');
    expect(fs.existsSync(path.join(expDir(repo, 'ml'), 'scratch', 'r0001'))).toBe(true);
  });

  it('runs keep, discard and crash, with the best checkpoint back in the tree after the discard and the crash', () => {
    const repo = mlRepo(0.1);
    const init = initMl(repo);
    expect(init.code).toBe(0);
    expect(init.json).toMatchObject({ mutable: ['train.js'], protect: ['eval.js'], warnings: [] });

    const base = step(repo, 'baseline');
    expect(base.run.json).toMatchObject({ status: 'ok' });
    expect(base.log.json).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(expDir(repo, 'ml'), 'runs/r0001/artifacts/ckpt/model.json'))).toBe(true);

    // The last match is the metric (epoch 2), not the first.
    const better = step(repo, 'raise the learning rate', trainer(0.2), ['--hypothesis', 'ten steps at 0.1 stop short of the minimum']);
    expect(better.run.json).toMatchObject({ status: 'ok' });
    expect(better.run.json?.primary as number).toBeCloseTo((3 * 0.6 ** 10) ** 2 + 0.1, 6);
    expect(better.log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('train.js');
    const bestW = ckptW(path.join(repo, 'ckpt/model.json'));
    expect(bestW).toBeGreaterThan(2.98);

    const worse = step(repo, 'lower the learning rate', trainer(0.05));
    expect(worse.log.json).toMatchObject({ verdict: 'discard', artifacts_from: 'r0002' });
    expect(read(repo, 'train.js')).toBe(trainer(0.2));
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(bestW);
    // The discarded run's copy is kept for analysis (artifacts_keep 2), under its own run.
    expect(ckptW(path.join(expDir(repo, 'ml'), 'runs/r0003/artifacts/ckpt/model.json'))).toBeLessThan(2);

    const crash = step(repo, 'bigger batch', trainer(0.2, { crash: true }));
    expect(crash.run.json).toMatchObject({ status: 'crash' });
    expect(crash.log.json).toMatchObject({ verdict: 'crash', artifacts_from: 'r0002' });
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(bestW);
    expect(fs.existsSync(path.join(repo, 'ckpt/optimizer.bin'))).toBe(false);

    // Restored checkpoints never count as out-of-scope changes: the next run is measured.
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(0.2));
    const again = engine('run-experiment', ['--json'], repo);
    expect(again.json).toMatchObject({ status: 'ok' });
    expect(engine('log-experiment', ['--description', 'rebaseline', '--json'], repo).code).toBe(0);

    const report = engine('report', [], repo).stdout;
    expect(report).toContain('- **Best artifacts:** `.autoloop/experiments/ml/runs/r0002/artifacts/` (r0002: ckpt/model.json)');
    const status = engine('status', ['--json'], repo).json;
    expect(status).toMatchObject({ best_artifacts: { run_id: 'r0002', dir: '.autoloop/experiments/ml/runs/r0002/artifacts' } });
  });

  it('moves the files in the way of the best\'s artifacts to rescued/<run>/, never deleting or overwriting one', () => {
    const repo = mlBaseline();
    expect(step(repo, 'raise lr', trainer(0.2)).log.json).toMatchObject({ verdict: 'keep' });
    const bestW = ckptW(path.join(repo, 'ckpt/model.json'));
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(0.05));
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    const discardedW = ckptW(path.join(repo, 'ckpt/model.json'));
    // While the loop runs, the user writes a file the artifact glob names.
    fs.writeFileSync(path.join(repo, 'ckpt/my-notes.txt'), 'mine\n');
    const log = engine('log-experiment', ['--description', 'lower lr', '--json'], repo);
    expect(log.json).toMatchObject({ verdict: 'discard', artifacts_from: 'r0002' });
    const to = '.autoloop/experiments/ml/rescued/r0003';
    expect(log.json?.artifacts_rescued).toEqual({ to, count: 2, files: ['ckpt/my-notes.txt', 'ckpt/model.json'] });
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(bestW);
    expect(fs.existsSync(path.join(repo, 'ckpt/my-notes.txt'))).toBe(false);
    expect(read(repo, `${to}/ckpt/my-notes.txt.autoloop-copy`)).toBe('mine\n');
    expect(ckptW(path.join(repo, `${to}/ckpt/model.json.autoloop-copy`))).toBe(discardedW);
    const reverted = ledger(repo, 'ml').find((l) => l.type === 'event' && l.event === 'reverted' && l.run_id === 'r0003');
    expect(reverted).toMatchObject({ data: { artifacts: 'r0002', artifacts_rescued: ['ckpt/my-notes.txt', 'ckpt/model.json'], rescued_to: to } });

    // In text: one line says where they went.
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(0.04));
    expect(engine('run-experiment', [], repo).code).toBe(0);
    const text = engine('log-experiment', ['--description', 'lower still'], repo);
    expect(text.stdout).toContain(`artifacts: the best's (r0002) are back in the tree; the file(s) in their way moved to .autoloop/experiments/ml/rescued/r0004/: "ckpt/model.json"`);

    // A run that leaves the best's checkpoint as it is: nothing is in the way, nothing moved.
    fs.writeFileSync(path.join(repo, 'train.js'), "console.log('val_loss: 99')\n");
    expect(engine('run-experiment', [], repo).code).toBe(0);
    const still = engine('log-experiment', ['--description', 'no training', '--json'], repo);
    expect(still.json).toMatchObject({ verdict: 'discard', artifacts_from: 'r0002' });
    expect(still.json?.artifacts_rescued).toBeUndefined();
    expect(fs.existsSync(path.join(expDir(repo, 'ml'), 'rescued/r0005/ckpt'))).toBe(false);
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(bestW);
  });

  it('never writes the best\'s artifact through a symlink the run left at its name', () => {
    const repo = mlBaseline(); // the symlink is under test, not the baseline: the file's shared one
    const outside = path.join(fs.mkdtempSync(path.join(path.dirname(repo), 'outside-')), 'precious.txt');
    fs.writeFileSync(outside, 'not the repository\'s\n');
    const evil = `const fs = require('node:fs'); fs.rmSync('ckpt/model.json', { force: true }); fs.symlinkSync(${JSON.stringify(outside)}, 'ckpt/model.json'); console.log('val_loss: 99');\n`;
    expect(step(repo, 'a symlink for a checkpoint', evil).log.json).toMatchObject({ verdict: 'discard', artifacts_from: 'r0001' });
    expect(fs.readFileSync(outside, 'utf8')).toBe('not the repository\'s\n');
    expect(fs.lstatSync(path.join(repo, 'ckpt/model.json')).isFile()).toBe(true);
    expect(fs.readlinkSync(path.join(expDir(repo, 'ml'), 'rescued/r0002/ckpt/model.json.autoloop-copy'))).toBe(outside);
  });

  it('prunes old runs\' artifacts but never the best\'s', () => {
    const repo = mlRepo(0.2);
    expect(initMl(repo, 'ml', ['--artifacts-keep', '1']).code).toBe(0);
    step(repo, 'baseline');
    for (const lr of [0.05, 0.04, 0.03]) expect(step(repo, `lr ${lr}`, trainer(lr)).log.json).toMatchObject({ verdict: 'discard' });
    const kept = fs.readdirSync(path.join(expDir(repo, 'ml'), 'runs')).filter((r) => fs.existsSync(path.join(expDir(repo, 'ml'), 'runs', r, 'artifacts')));
    expect(kept).toEqual(['r0001', 'r0004']);
  });

  it('keeps no artifacts past the size cap, and says so', () => {
    // A shell trainer: the cap is under test, not the trainer.
    const repo = makeRepo({ 'train.sh': "mkdir -p ckpt; head -c 2097152 /dev/zero > ckpt/big.bin; echo 'val_loss: 1'\n", '.gitignore': 'ckpt/\n' });
    expect(engine('init-experiment', ['--name', 'cap', '--metric', 'val_loss', '--direction', 'lower', '--command', 'sh train.sh', '--scope', 'train.sh', '--source', REGEX, '--artifacts', 'ckpt/**', '--artifacts-max-mb', '1', '--repeats', '1'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    const rec = JSON.parse(read(repo, '.autoloop/experiments/cap/runs/r0001/result.json')) as { artifacts: unknown; warnings: string[] };
    expect(rec.artifacts).toBeNull();
    expect(rec.warnings.join('\n')).toMatch(/artifacts: 2\.0 MiB is over artifacts_max_mb \(1\); none kept/);
  });

  it('records the evidence a hypothesis rests on, and the report pairs it with the outcome', () => {
    const repo = mlBaseline();
    const scratch = path.join(expDir(repo, 'ml'), 'scratch', 'r0002');
    expect(fs.existsSync(scratch)).toBe(true);
    expect(fs.existsSync(path.join(expDir(repo, 'ml'), 'scratch', 'PLAN-TEMPLATE.md'))).toBe(true);
    fs.writeFileSync(path.join(scratch, 'grad-norms.txt'), 'step 10: w=2.68, still moving\n');
    const ev = '.autoloop/experiments/ml/scratch/r0002/grad-norms.txt';
    fs.writeFileSync(path.join(repo, 'train.js'), trainer(0.2));
    expect(engine('run-experiment', [], repo).code).toBe(0);
    const missing = engine('log-experiment', ['--description', 'lr', '--evidence', 'nope.txt'], repo);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('log-experiment: --evidence nope.txt: no such file (write the diagnostic\'s output first)');
    const log = engine('log-experiment', ['--description', 'raise lr', '--hypothesis', 'training stops short of the minimum', '--evidence', `${ev}:w still moving at the last step`], repo);
    expect(log.code).toBe(0);
    const line = ledger(repo, 'ml').find((l) => l.type === 'result' && l.run_id === 'r0002') as { evidence: { file: string; what: string; sha256: string }[] };
    expect(line.evidence).toEqual([{ file: ev, what: 'w still moving at the last step', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown as string }]);
    const report = engine('report', [], repo).stdout;
    expect(report).toContain(`- r0002 keep: training stops short of the minimum → improved`);
    expect(report).toContain(`evidence: \`${ev}\` (w still moving at the last step)`);
  });
});

describe('which files judge the metric', HANG_GUARD, () => {
  it('warns when the evaluation code itself is in the scope', () => {
    const repo = makeRepo({ 'eval.js': "console.log('METRIC score=1')\n", 'lib.js': '\n' });
    const r = engine('init-experiment', ['--name', 'w', '--metric', 'score', '--direction', 'lower', '--command', 'node eval.js', '--scope', '*.js'], repo);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('mutable: *.js (incl. eval.js, run by the commands) · protected (never edit): none found in the commands; add --protect');
    expect(r.stdout).toMatch(/warning: eval\.js looks like evaluation code and is in the scope/);
  });

  it('keeps the benchmark a judge under the default whole-repository scope', () => {
    const repo = makeRepo({ 'bench.js': "console.log('METRIC score=1')\n" });
    const r = engine('init-experiment', ['--name', 'd', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.js', '--json'], repo);
    expect(r.json).toMatchObject({ protect: ['bench.js'], mutable: [] });
  });

  it("names a Python judge's absent shadow files by their count only, and the hook still refuses creating one", () => {
    const score = 'import json, subprocess\nfrom pathlib import Path\nimport helper\nprint("METRIC score=1")\n';
    const repo = makeRepo({ 'score.py': score, 'helper.py': 'X = 1\n', 'train.py': 'print(1)\n' });
    const r = engine('init-experiment', ['--name', 'py', '--metric', 'score', '--direction', 'lower', '--command', 'python3 score.py', '--scope', 'train.py'], repo);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('mutable:'));
    // json, subprocess, pathlib: six forms each, none of them there; helper.py is
    // what score.py imports from its folder, so a judge too (judge-reach.ts).
    expect(line).toBe("mutable: train.py · protected (never edit): helper.py score.py, and 18 absent paths that must not be created (a file there would take the place of what a judge runs or imports)");
    const active = JSON.parse(read(repo, '.autoloop/active.json')) as { protect: string[] };
    expect(active.protect).toContain('json.py');
    // The JSON the setup skill reads names the same (a new segment over the same judges).
    const json = engine('init-experiment', ['--name', 'py', '--metric', 'score', '--direction', 'lower', '--command', 'python3 score.py', '--scope', 'train.py', '--json'], repo);
    expect(json.json).toMatchObject({ segment: 2, protect: ['helper.py', 'score.py'], protect_absent: 18 });
    const input = { session_id: 's', transcript_path: path.join(repo, 't.jsonl'), cwd: repo, hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: path.join(repo, 'json.py'), content: 'x' }, tool_use_id: 't' };
    const root = path.resolve(import.meta.dirname, '..');
    const hook = spawnSync('sh', [path.join(root, 'hooks/run.sh'), 'pre-tool-use'], { cwd: repo, input: JSON.stringify(input), encoding: 'utf8', env: { ...process.env, CLAUDE_PLUGIN_ROOT: root, CLAUDE_PROJECT_DIR: repo } });
    const out = JSON.parse(hook.stdout) as { hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string } };
    expect(out.hookSpecificOutput.permissionDecision).toBe('deny');
    expect(out.hookSpecificOutput.permissionDecisionReason).toMatch(/^autoloop: json\.py is protected though absent: .* so it must not be created/);
  });

  it('finds the benchmark of a monorepo package that the command cd\'s into, and a run that rewrites it is invalid', () => {
    const bench = "console.log('METRIC score=' + require('fs').readFileSync('src/val.txt', 'utf8').trim())\n";
    const repo = makeRepo({ 'packages/foo/bench.js': bench, 'packages/foo/src/val.txt': '100\n', 'packages/bar/x.txt': 'x\n' });
    const r = engine('init-experiment', ['--name', 'mono', '--metric', 'score', '--direction', 'lower', '--command', 'cd packages/foo && node bench.js', '--scope', 'packages/foo/src/**', '--json'], repo);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ protect: ['packages/foo/bench.js'], mutable: [] });
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    // The loop rewrites the benchmark to print a better score: not a keep.
    fs.writeFileSync(path.join(repo, 'packages/foo/src/val.txt'), '90\n');
    fs.writeFileSync(path.join(repo, 'packages/foo/bench.js'), "console.log('METRIC score=1')\n");
    const cheat = engine('run-experiment', ['--description', 'cheat', '--json'], repo);
    expect(cheat.json).toMatchObject({ verdict: 'invalid' });
    expect(read(repo, 'packages/foo/bench.js')).toBe(bench);
  });

  it('refuses, from a package directory, a scope written from there (globs are from the top), and warns of one that matches nothing', () => {
    const repo = makeRepo({ 'packages/foo/bench.js': "console.log('METRIC score=1')\n", 'packages/foo/src/a.js': '\n' });
    const args = (scope: string) => ['--name', 'mono', '--metric', 'score', '--direction', 'lower', '--command', 'cd packages/foo && node bench.js', '--scope', scope];
    const wrong = engine('init-experiment', args('src/**'), path.join(repo, 'packages/foo'));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toBe(`init-experiment: --scope "src/**" matches no file: scope globs are relative to the repository top (${repo}), not to packages/foo; did you mean --scope "packages/foo/src/**"?`);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'mono'))).toBe(false);
    expect(git(repo, 'symbolic-ref', '--short', 'HEAD').trim()).not.toBe('autoloop/mono');
    // The commands run at the top too: one naming a file only the package has is refused with the one meant.
    const here = engine('init-experiment', ['--name', 'mono', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'packages/foo/src/**'], path.join(repo, 'packages/foo'));
    expect(here.code).toBe(2);
    expect(here.stderr.trim()).toBe(`init-experiment: "node bench.js" names bench.js, which is in packages/foo, not at the repository top (${repo}) where commands run; did you mean "cd packages/foo && node bench.js"?`);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'mono'))).toBe(false);
    const later = engine('init-experiment', [...args('packages/foo/gen/**'), '--scope', 'packages/foo/src/**', '--json'], path.join(repo, 'packages/foo'));
    expect(later.code).toBe(0);
    expect((later.json as { warnings: string[] }).warnings).toEqual([`--scope "packages/foo/gen/**" matches no file yet (scope globs are relative to the repository top, ${repo})`]);
  });

  it('lets --protect win over the scope', () => {
    const repo = makeRepo({ 'src/train.js': '\n', 'src/eval.js': '\n' });
    const r = engine('init-experiment', ['--name', 'p', '--metric', 'm', '--direction', 'lower', '--command', 'node src/train.js src/eval.js', '--scope', 'src/**', '--protect', 'src/eval.js', '--json'], repo);
    expect(r.json).toMatchObject({ protect: ['src/eval.js'], mutable: ['src/train.js'] });
  });
});

describe('a follow-up that starts from the parent\'s best checkpoint', HANG_GUARD, () => {
  it('copies the best artifacts into the tree at chain time, on record, and the child resumes from them', () => {
    const repo = makeRepo({ 'train.js': trainer(0.1, { resume: true }), 'eval.js': EVAL, '.gitignore': 'ckpt/\n' });
    // One sample per run (initMl's --repeats 1, required here): a resuming trainer changes its own starting point.
    expect(initMl(repo, 'a', ['--max-runs', '3', '--repeats', '1']).code).toBe(0);
    step(repo, 'baseline');
    // Resuming from the checkpoint, each run trains further: keep.
    expect(step(repo, 'train on, faster', trainer(0.15, { resume: true })).log.json).toMatchObject({ verdict: 'keep' });
    const bestW = ckptW(path.join(repo, 'ckpt/model.json'));
    expect(step(repo, 'diverge', trainer(1.1, { resume: true })).log.json).toMatchObject({ verdict: 'discard', should_terminate: true });
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(bestW);

    // Someone replaces the checkpoint with their own; the chain puts the best's back and moves theirs aside.
    fs.writeFileSync(path.join(repo, 'ckpt/model.json'), JSON.stringify({ w: -1 }));
    const chain = engine('chain', ['--from', 'a', '--name', 'b', '--rationale', 'fine-tune from the best checkpoint', '--max-runs', '5', '--artifacts-from-parent', '--json'], repo);
    expect(chain.code).toBe(0);
    const to = '.autoloop/experiments/b/rescued/chain';
    expect(chain.json).toMatchObject({ artifacts_from: 'a/r0002', artifacts: ['ckpt/model.json'], artifacts_rescued: { to, files: ['ckpt/model.json'] } });
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(bestW);
    expect(ckptW(path.join(repo, `${to}/ckpt/model.json.autoloop-copy`))).toBe(-1);
    const ev = ledger(repo, 'b').find((l) => l.type === 'event' && l.event === 'artifacts');
    expect(ev).toMatchObject({ data: { from: 'a', run_id: 'r0002', files: ['ckpt/model.json'], rescued_to: to, rescued: ['ckpt/model.json'] } });
    const decision = JSON.parse(read(repo, '.autoloop/experiments/b/chain-decision.json')) as Record<string, unknown>;
    expect(decision.parent_artifacts).toEqual({ run_id: 'r0002', dir: '.autoloop/experiments/a/runs/r0002/artifacts', files: ['ckpt/model.json'] });

    // The child's baseline trains on from the parent's best: better than the parent's best.
    const parentBest = (engine('status', ['--experiment', 'a', '--json'], repo).json as { best: number }).best;
    const base = step(repo, 'baseline');
    expect(base.log.json).toMatchObject({ verdict: 'keep' });
    expect(base.run.json?.primary as number).toBeLessThan(parentBest);
  });

  it('refuses --artifacts-from-parent when the parent kept none', () => {
    // A shell trainer: the chain's refusal is under test, and each sample of a Node one is a Node start.
    const repo = makeRepo({ 'train.sh': "echo 'val_loss: 1'\n" });
    expect(engine('init-experiment', ['--name', 'a', '--metric', 'val_loss', '--direction', 'lower', '--command', 'sh train.sh', '--scope', 'train.sh', '--source', REGEX, '--max-runs', '1'], repo).code).toBe(0);
    step(repo, 'baseline');
    const r = engine('chain', ['--from', 'a', '--name', 'b', '--rationale', 'x', '--artifacts-from-parent'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('chain: "a" kept no artifacts of its best run (r0001): leave out --artifacts-from-parent');
    expect(fs.existsSync(expDir(repo, 'b'))).toBe(false);
  });
});
