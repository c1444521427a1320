// What the engine benches share: the repository they measure in (a committed
// src/v.txt whose value a deterministic shell benchmark prints), the engine
// called on it as a user would, and the CPU its child processes used.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fixed identity for the benches' own git commands (the machine may have none configured). */
export const GIT_ENV = { GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' };

/** The experiment `b` on that benchmark, lower better; each bench adds its scope and limits. */
export const EXPERIMENT = ['--name', 'b', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh'];

const TICK_MS = 10; // USER_HZ, 100 on Linux

/** CPU time (user + system) of this process's waited-for children so far, ms (Linux: /proc/self/stat cutime + cstime). */
export function childrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after the command name, which may hold anything
  return (Number(f[13]) + Number(f[14])) * TICK_MS;
}

/**
 * A new repository under the temp folder (its real path), `prefix` naming it:
 * src/v.txt = 1, bench.sh printing it as `metric`, and any `files` besides,
 * all committed on main.
 */
export function benchRepo(prefix: string, opts: { metric?: string; files?: Record<string, string | Uint8Array> } = {}): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const files = { 'src/v.txt': '1', 'bench.sh': `echo METRIC ${opts.metric ?? 'score'}=$(cat src/v.txt)\n`, ...opts.files };
  for (const [rel, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), body);
  }
  const env = { ...process.env, ...GIT_ENV };
  for (const a of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-qm', 'init']]) spawnSync('git', a, { cwd: dir, env });
  return dir;
}

/** One engine call in `dir` from the bundles in `dist`; a failure throws with what it printed. */
export function engineCall(dist: string, dir: string, name: string, args: string[], env: NodeJS.ProcessEnv = { ...process.env, ...GIT_ENV }): void {
  const r = spawnSync(process.execPath, [path.join(dist, `${name}.mjs`), ...args, '--cwd', dir], { env });
  if (r.status !== 0) throw new Error(`${name}: ${String(r.stderr)}`);
}

/** The baseline measured and logged: the committed code first, before any change (as the engine's loop starts). */
export function keepBaseline(dist: string, dir: string): void {
  engineCall(dist, dir, 'run-experiment', []);
  engineCall(dist, dir, 'log-experiment', ['--description', 'baseline']);
}
