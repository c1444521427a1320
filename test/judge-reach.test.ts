// A judge's own code beyond its file: a benchmark linked into a folder
// (bench.py -> eval/run.py, bench.js -> eval/run.js) imports modules from that
// folder (eval/helpers.py, eval/lib.js and what lib.js requires in turn). They
// are judges: init names them, a run refuses a tree where they changed and puts
// them back, and the PreToolUse hook denies an edit of them, as it does the
// judge's. Before, an edited helpers.py was measured (a change kept at +90%).
// Real repositories, the bundled engine and hook.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, jsonOf, makeRepo, ROOT } from './helpers/engine.ts';

const SLOW = 900_000;

const PY_RUN = 'import sys\nsys.path.append(".")\nimport helpers\nfrom src import m\nprint("METRIC score=%s" % helpers.score(m.V))\n';
const JS_RUN = "const { score } = require('./lib.js');\nconst v = Number(require('node:fs').readFileSync('src/v.txt', 'utf8'));\nconsole.log('METRIC score=' + score(v));\n";

function linked(files: Record<string, string>, link: string, target: string): string {
  const dir = makeRepo(files);
  fs.symlinkSync(target, path.join(dir, link));
  spawnSync('git', ['add', link], { cwd: dir });
  spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'link'], { cwd: dir });
  return dir;
}

function init(dir: string, command: string, scope = 'src/**'): Record<string, unknown> {
  const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', scope, '--json'], dir);
  expect(r.code, r.stderr).toBe(0);
  return jsonOf(r.stdout) as Record<string, unknown>;
}

/** The PreToolUse hook's answer to an Edit of `rel` (the loop's hook script, as Claude Code starts it). */
function editDenial(dir: string, rel: string): string {
  const payload = { session_id: 'sess-a', transcript_path: path.join(dir, 't.jsonl'), cwd: dir, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(dir, rel), old_string: 'a', new_string: 'b', replace_all: false }, tool_use_id: 'toolu_01' };
  const r = spawnSync('/bin/sh', [path.join(ROOT, 'hooks', 'run.sh'), 'pre-tool-use'], { input: JSON.stringify(payload), cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: dir }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('what a linked judge imports from its folder', () => {
  it('Python: eval/helpers.py is a judge; an edit of it is refused by the run and by the hook', () => {
    const dir = linked({ 'src/__init__.py': '', 'src/m.py': 'V = 100\n', 'eval/run.py': PY_RUN, 'eval/helpers.py': 'def score(v):\n    return v\n' }, 'bench.py', 'eval/run.py');
    const opened = init(dir, 'python3 bench.py');
    expect(opened.protect).toEqual(expect.arrayContaining(['bench.py', 'eval/run.py', 'eval/helpers.py']));
    const base = engine('run-experiment', ['--description', 'baseline', '--json'], dir);
    expect(jsonOf(base.stdout)?.primary, base.stderr).toBe(100);
    const honest = 'def score(v):\n    return v\n';
    fs.writeFileSync(path.join(dir, 'eval/helpers.py'), 'def score(v):\n    return v / 10\n');
    fs.writeFileSync(path.join(dir, 'src/m.py'), 'V = 99\n');
    const run = jsonOf(engine('run-experiment', ['--description', 'a tenth', '--json'], dir).stdout) as Record<string, unknown>;
    expect(run.verdict).toBe('invalid');
    expect(String(run.reason)).toMatch(/eval\/helpers\.py changed/);
    expect(fs.readFileSync(path.join(dir, 'eval/helpers.py'), 'utf8')).toBe(honest);
    expect(editDenial(dir, 'eval/helpers.py')).toMatch(/eval\/helpers\.py is protected/);
    expect(editDenial(dir, 'src/m.py')).not.toMatch(/protected/);
  }, SLOW);

  it('Node: eval/lib.js and what it requires in turn are judges; a module in the scope stays the code under test', () => {
    const dir = linked(
      {
        'src/v.txt': '100',
        'src/solver.js': 'module.exports = 1;\n',
        'eval/run.js': JS_RUN + "require('../src/solver.js');\n",
        'eval/lib.js': "const { k } = require('./deep.js');\nexports.score = (v) => v * k;\n",
        'eval/deep.js': 'exports.k = 1;\n',
      },
      'bench.js',
      'eval/run.js',
    );
    const opened = init(dir, 'node bench.js');
    expect(opened.protect).toEqual(expect.arrayContaining(['bench.js', 'eval/run.js', 'eval/lib.js', 'eval/deep.js']));
    expect(opened.protect).not.toContain('src/solver.js');
    expect(editDenial(dir, 'eval/deep.js')).toMatch(/eval\/deep\.js is protected/);
  }, SLOW);
});
