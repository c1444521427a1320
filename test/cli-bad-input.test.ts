// Bad input to the entry points the plugin runs (dist/*.mjs), as a shell hands it over: an
// empty --cwd or --experiment (a `--cwd "$REPO"` with REPO unset) and a claude that is not
// there. Each is refused in one line naming the flag, exit 2, before anything is done: never
// taken as "the current directory" or "the active experiment" in its stead, where a mutating
// call (stop, clear, a run) would have acted on whatever repository the shell stood in.
// Other bad input (unknown flags, a missing folder, a file as --cwd, a folder with no
// experiment, an unknown experiment) is refused in one line already: see input-edges.test.ts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baselineRepo, bundle, git } from './helpers/engine.ts';

// Many real engine calls in one test: a guard against a hang, not a speed limit (the machine may be loaded).
const HANG_GUARD = { timeout: 900_000 };
// No row may start a real claude, whatever the fix: up is always pointed at a program that is not there.
const NO_CLAUDE = ['--claude', '/nonexistent/autoloop-test-claude'];

/** Run a bundle with exactly these arguments, from inside the repository (no --cwd added). */
function call(script: string, args: readonly string[], cwd: string) {
  const r = spawnSync(process.execPath, [bundle(script), ...args], { cwd, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const INIT = ['--name', 'other', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs'];
const CHAIN = ['--name', 'next', '--rationale', 'why'];

// [script, arguments, the line's start after "<script>: "]
const EMPTY: readonly (readonly [string, readonly string[], string])[] = [
  ['status', ['--cwd', ''], '--cwd is empty'],
  ['dashboard', ['--cwd', ''], '--cwd is empty'],
  ['report', ['--cwd', ''], '--cwd is empty'],
  ['control', ['stop', '--cwd', ''], '--cwd is empty'],
  ['control', ['clear', '--cwd', ''], '--cwd is empty'],
  ['candidate', ['list', '--cwd', ''], '--cwd is empty'],
  ['finalize', ['--cwd', ''], '--cwd is empty'],
  ['diagnose', ['--cwd', ''], '--cwd is empty'],
  ['run-experiment', ['--description', 'x', '--cwd', ''], '--cwd is empty'],
  ['log-experiment', ['--description', 'x', '--cwd', ''], '--cwd is empty'],
  ['init-experiment', [...INIT, '--cwd', ''], '--cwd is empty'],
  ['chain', [...CHAIN, '--cwd', ''], '--cwd is empty'],
  ['up', [...NO_CLAUDE, '--cwd', ''], '--cwd is empty'],
  ['status', ['--experiment', ''], '--experiment is empty'],
  ['dashboard', ['--experiment', ''], '--experiment is empty'],
  ['report', ['--experiment', ''], '--experiment is empty'],
  ['control', ['stop', '--experiment', ''], '--experiment is empty'],
  ['candidate', ['list', '--experiment', ''], '--experiment is empty'],
  ['finalize', ['--experiment', ''], '--experiment is empty'],
  ['diagnose', ['--experiment', ''], '--experiment is empty'],
  ['run-experiment', ['--description', 'x', '--experiment', ''], '--experiment is empty'],
  ['log-experiment', ['--description', 'x', '--experiment', ''], '--experiment is empty'],
  ['up', [...NO_CLAUDE, '--experiment', ''], '--experiment is empty'],
  ['chain', [...CHAIN, '--from', ''], '--from is empty'],
];

describe('an empty --cwd, --experiment or --from', HANG_GUARD, () => {
  it('is refused by every entry point in one line naming the flag, and nothing in the repository it stands in changes', () => {
    const repo = baselineRepo();
    fs.writeFileSync(path.join(repo, 'src', 'value.txt'), '90'); // a change a run would measure
    const ledger = path.join(repo, '.autoloop', 'experiments', 'exp', 'ledger.jsonl');
    const before = { ledger: fs.readFileSync(ledger), active: fs.readFileSync(path.join(repo, '.autoloop', 'active.json')), branches: git(repo, 'branch', '--list') };
    for (const [script, args, says] of EMPTY) {
      const r = call(script, args, repo);
      const what = `${script} ${args.join(' ')}: ${r.stderr}${r.stdout}`;
      expect(r.code, what).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), what).toEqual([expect.stringMatching(new RegExp(`^${script}: ${says}: `))]);
      expect(r.stderr, what).not.toMatch(/^\s+at /m);
      expect(r.stdout, what).toBe('');
    }
    expect(fs.readFileSync(ledger)).toEqual(before.ledger);
    expect(fs.readFileSync(path.join(repo, '.autoloop', 'active.json'))).toEqual(before.active);
    expect(git(repo, 'branch', '--list')).toBe(before.branches);
    expect(fs.readdirSync(path.join(repo, '.autoloop', 'experiments'))).toEqual(['exp']);
  });
});

describe('up with a claude that is not there', HANG_GUARD, () => {
  it('never says it started one: it says it could not run it, and gives up with exit 1', () => {
    const repo = baselineRepo();
    const r = call('up', NO_CLAUDE, repo);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('could not run claude: spawn /nonexistent/autoloop-test-claude ENOENT');
    expect(r.stderr).not.toMatch(/started claude/);
    expect(r.stderr).not.toMatch(/pid -1/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
