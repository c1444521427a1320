// Drive the real engine (bundled by test/global-build.ts) on real temporary
// repositories.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { tmpDir } from './tmp.ts';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export function bundle(name: string): string {
  const dist = process.env.AUTOLOOP_TEST_DIST;
  if (!dist) throw new Error('AUTOLOOP_TEST_DIST is not set: test/global-build.ts did not run');
  return path.join(dist, `${name}.mjs`);
}

export interface EngineResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | null;
}

export function engine(name: string, args: string[], cwd: string, env: Record<string, string> = {}): EngineResult {
  const r = spawnSync(process.execPath, [bundle(name), ...args, '--cwd', cwd], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 600_000, // ends a hung engine, not a speed limit
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: args.includes('--json') ? jsonOf(r.stdout) : null };
}

/** What an engine call printed, as its JSON answer (null when it printed none). */
export function jsonOf(stdout: string): Record<string, unknown> | null {
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Start an engine command without waiting (for kill and concurrency tests). */
export function engineAsync(name: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawn(process.execPath, [bundle(name), ...args, '--cwd', cwd], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A child's exit code with everything it printed (listening from the start, so nothing is lost). */
export function finished(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};
Object.assign(process.env, GIT_ENV);

/** A temp directory with these files; a git repository with one commit unless git is false. */
export function makeRepo(files: Record<string, string>, opts: { git?: boolean } = {}): string {
  const dir = tmpDir('autoloop-it-');
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  if (opts.git !== false) {
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'initial');
  }
  return dir;
}

/**
 * A benchmark whose metric is the number in src/value.txt. Words in that file
 * switch behaviours: "crash", "slow" (sleeps past any timeout, with children
 * that ignore SIGTERM), "noisy" (Gaussian noise, CV 3%), "flood" (50 MB of output first).
 */
export const VALUE_BENCH = `
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const text = fs.readFileSync('src/value.txt', 'utf8');
const value = Number.parseFloat(text);
if (text.includes('crash')) { console.error('boom: the change broke the program'); process.exit(3); }
if (text.includes('slow')) {
  // One line per process, so a test knows when all three are up (their pids are
  // the run's namespace's: the tests find them from outside with processesIn).
  process.on('SIGTERM', () => {});
  for (let i = 0; i < 2; i++) spawn(process.execPath, ['-e', "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)"], { stdio: 'ignore' });
  const self = fs.readlinkSync('/proc/self');
  const kids = fs.readFileSync('/proc/self/task/' + self + '/children', 'utf8').trim().split(' ').filter(Boolean);
  fs.appendFileSync('.pids', [...kids, self].join('\\n') + '\\n');
  setInterval(() => {}, 1000);
} else {
  if (text.includes('flood')) { const line = 'x'.repeat(99) + '\\n'; for (let i = 0; i < 500000; i++) process.stdout.write(line); }
  let v = value;
  if (text.includes('noisy')) {
    const u = 1 - Math.random(), w = Math.random();
    v = value * (1 + 0.03 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
  }
  console.log('METRIC score=' + v);
  console.log('METRIC mem=10');
}
`;

export function valueRepo(value = '100', extra: Record<string, string> = {}, opts: { git?: boolean } = {}): string {
  return makeRepo({ 'bench.cjs': VALUE_BENCH, 'src/value.txt': value, 'src/other.txt': 'other\n', 'README.md': 'fixture\n', ...extra }, opts);
}

export function initValue(repo: string, extra: string[] = []): EngineResult {
  return engine('init-experiment', overriding(['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--json'], extra), repo);
}

/**
 * Default flags followed by a test's own: a `--flag value` pair of the defaults
 * is dropped when the test gives that flag (the engine refuses a single-valued
 * flag given twice). Repeatable flags (--scope) add to the defaults.
 */
export function overriding(defaults: readonly string[], extra: readonly string[]): string[] {
  const given = new Set(extra.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]));
  const out: string[] = [];
  for (let i = 0; i < defaults.length; i++) {
    const flag = defaults[i] as string;
    const valued = i + 1 < defaults.length && !(defaults[i + 1] as string).startsWith('--');
    if (flag !== '--scope' && given.has(flag)) {
      if (valued) i++;
      continue;
    }
    out.push(flag);
  }
  return [...out, ...extra];
}

const templates = new Map<string, string>();

/**
 * A fresh copy of the repository build() makes, which runs once per test file
 * and key into a template that each call copies whole. Nothing in the
 * repository or in .autoloop/ names its own path, so a copy is an independent
 * repository in the same state.
 */
export function fromTemplate(key: string, build: () => string): string {
  let template = templates.get(key);
  if (template === undefined) {
    template = build();
    templates.set(key, template);
  }
  const dir = tmpDir('autoloop-it-');
  fs.cpSync(template, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

/**
 * A fresh copy of valueRepo(value) after initValue(initExtra) and a logged
 * baseline. Many tests start exactly there; the set-up (three git and three
 * engine calls, three samples of the benchmark) runs once per test file
 * (fromTemplate). Tests that check init or the baseline itself do not use it.
 */
export function baselineRepo(value = '100', initExtra: string[] = []): string {
  return fromTemplate(JSON.stringify(['baseline', value, initExtra]), () => {
    const template = valueRepo(value);
    const init = initValue(template, initExtra);
    if (init.code !== 0) throw new Error(`init-experiment failed: ${init.stderr}`);
    const { log } = iterate(template, 'baseline');
    if (log.json?.verdict !== 'keep') throw new Error(`the baseline was not kept: ${log.stdout}${log.stderr}`);
    return template;
  });
}

/**
 * valueRepo's benchmark without its behaviour words, in shell builtins: the number in
 * src/value.txt as written, and mem=10. The same values with no Node start per sample, for
 * tests whose subject is not the benchmark.
 */
export const SHELL_VALUE_BENCH = 'read -r v < src/value.txt\necho "METRIC score=$v"\necho "METRIC mem=10"\n';

/** valueRepo(value, files) measured by SHELL_VALUE_BENCH (bench.sh; init it with SHELL_COMMAND). */
export function shellValueRepo(value = '100', opts: { git?: boolean; files?: Record<string, string> } = {}): string {
  const files = { 'bench.sh': SHELL_VALUE_BENCH, 'src/value.txt': value, 'src/other.txt': 'other\n', 'README.md': 'fixture\n', ...opts.files };
  return makeRepo(files, { git: opts.git });
}

export const SHELL_COMMAND = ['--command', 'sh bench.sh'];

/** baselineRepo(value, initExtra) on shellValueRepo: built once per test file, value and initExtra (fromTemplate). */
export function shellBaselineRepo(value = '100', initExtra: string[] = []): string {
  return fromTemplate(JSON.stringify(['shell baseline', value, initExtra]), () => {
    const template = shellValueRepo(value);
    const init = initValue(template, [...SHELL_COMMAND, ...initExtra]);
    if (init.code !== 0) throw new Error(`init-experiment failed: ${init.stderr}`);
    const { log } = iterate(template, 'baseline');
    if (log.json?.verdict !== 'keep') throw new Error(`the baseline was not kept: ${log.stdout}${log.stderr}`);
    return template;
  });
}

export function setValue(repo: string, value: string): void {
  fs.writeFileSync(path.join(repo, 'src', 'value.txt'), value);
}

export function iterate(repo: string, description: string, logArgs: string[] = []): { run: EngineResult; log: EngineResult } {
  const run = engine('run-experiment', ['--json'], repo);
  const log = engine('log-experiment', ['--description', description, '--json', ...logArgs], repo);
  return { run, log };
}

/** run-experiment then log-experiment, each required to succeed (its stderr in the failure); the log's JSON. */
export function step(repo: string, description: string): Record<string, unknown> {
  const { run, log } = iterate(repo, description);
  for (const [name, r] of [['run-experiment', run], ['log-experiment', log]] as const) {
    if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${r.stderr}`);
  }
  return log.json as Record<string, unknown>;
}

export function ledger(repo: string, slug = 'exp'): Array<Record<string, unknown>> {
  const file = path.join(repo, '.autoloop', 'experiments', slug, 'ledger.jsonl');
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

import { pidAlive } from '../../scripts/lib/procs.ts';
export { pidAlive as alive };

/**
 * Live processes whose working directory is `dir`, as the host sees them: a
 * run's processes, found from outside whatever PID namespace and /proc the run
 * has (the pids a benchmark reads inside its own namespace mean other
 * processes out here). The engine and the tests run elsewhere.
 */
export function processesIn(dir: string): number[] {
  const want = fs.realpathSync(dir);
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (cwd === want && pidAlive(pid)) out.push(pid);
  }
  return out;
}

/** Polls until pred holds; the deadline only ends a hung test (a loaded machine is slow), it is not a speed check. */
export function waitFor(pred: () => boolean, ms = 240_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 25);
    };
    tick();
  });
}
