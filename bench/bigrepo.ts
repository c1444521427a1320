// Big repositories stay fast (issue 11, class 9): a repository with 30,000
// non-ignored untracked files in a venv/. Each figure is a ratio measured in
// the same run (the machines are shared; absolute times mean little):
//  - an engine call's CPU cost that the big tree adds (the same call in the same
//    repository without venv/ subtracted), against one bare `git status`
//    there (target ≤ 2x);
//  - the whole call against a bare `git status` plus a bare `node -e 0`,
//    for the record;
//  - the size of workspace.json (it once held a record per untracked file).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchRepo, childrenCpuMs, engineCall, EXPERIMENT, GIT_ENV } from './fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
if (!fs.existsSync(path.join(DIST, 'run-experiment.mjs'))) {
  console.error('bench/bigrepo: dist/ is missing: run npm run build first');
  process.exit(2);
}
const FILES = Number(process.env.BIGREPO_FILES ?? 30_000);
const N = 9;
const ENV = { ...process.env, ...GIT_ENV };

/** CPU ms a command (and everything it started) used: on a shared machine wall time mostly measures the neighbours. */
function timeMs(cmd: string, args: string[], cwd: string): number {
  const before = childrenCpuMs();
  const r = spawnSync(cmd, args, { cwd, env: ENV, stdio: 'ignore' });
  if (r.error) throw r.error;
  return childrenCpuMs() - before;
}

/** The least CPU of n calls: what the work costs, without the neighbours' interference (CPU ticks are 10 ms). */
function least(f: () => number): number {
  f();
  return Math.min(...Array.from({ length: N }, f));
}

function repo(withVenv: boolean): string {
  const dir = benchRepo('autoloop-bigrepo-');
  if (withVenv) {
    for (let d = 0; d < FILES / 100; d++) {
      const sub = path.join(dir, 'venv', 'lib', `pkg${d}`);
      fs.mkdirSync(sub, { recursive: true });
      for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(sub, `m${i}.py`), `x = ${i}\n`);
    }
  }
  // The default scope (**) reaches into venv/: the hardest case.
  engineCall(DIST, dir, 'init-experiment', [...EXPERIMENT, '--max-runs', 'none', '--plateau', 'none']);
  return dir;
}

/** One engine iteration's calls, each timed: status, run, log. */
function iteration(dir: string): Record<string, number> {
  const node = (script: string, ...args: string[]) => timeMs(process.execPath, [path.join(DIST, `${script}.mjs`), ...args, '--cwd', dir], dir);
  let v = 1000;
  return {
    status: least(() => node('status')),
    run: least(() => {
      fs.writeFileSync(path.join(dir, 'src', 'v.txt'), String(v--));
      const t = node('run-experiment');
      node('log-experiment', '--description', 'x', '--discard');
      return t;
    }),
    log: least(() => {
      fs.writeFileSync(path.join(dir, 'src', 'v.txt'), String(v--));
      node('run-experiment');
      return node('log-experiment', '--description', 'x', '--discard');
    }),
  };
}

const small = repo(false);
const big = repo(true);
// One `git status` here can take less than a 10 ms CPU tick: time a batch and divide.
const BATCH = 20;
const gitStatus = least(() => {
  let t = 0;
  for (let i = 0; i < BATCH; i++) t += timeMs('git', ['status'], big);
  return t;
}) / BATCH;
const nodeBare = least(() => timeMs(process.execPath, ['-e', '0'], big));
console.log(`baseline.git_status_${FILES}_untracked_cpu_ms ${gitStatus.toFixed(1)}`);
console.log(`baseline.node_e0_cpu_ms ${nodeBare.toFixed(1)}`);
const a = iteration(small);
const b = iteration(big);
for (const k of Object.keys(a)) {
  // Negative: the big tree added nothing measurable (the calls differ by less than a tick).
  const added = Math.max(0, (b[k] as number) - (a[k] as number));
  console.log(`bigrepo.${k}_added_vs_git_status ${(added / Math.max(gitStatus, 0.1)).toFixed(2)}x (${(b[k] as number).toFixed(0)} vs ${(a[k] as number).toFixed(0)} CPU ms without venv/; target <= 2x)`);
  console.log(`bigrepo.${k}_vs_git_status_plus_node ${((b[k] as number) / (gitStatus + nodeBare)).toFixed(2)}x`);
}
const ws = fs.statSync(path.join(big, '.autoloop', 'experiments', 'b', 'workspace.json')).size;
console.log(`bigrepo.workspace_json_bytes ${ws} (independent of the ${FILES} untracked files)`);
for (const d of [small, big]) fs.rmSync(d, { recursive: true, force: true });
