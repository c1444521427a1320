// Drive the real engine scripts on throwaway git repositories, with
// a deterministic benchmark: it prints the number in src/value.txt (or crashes
// when that file says "crash"), so every verdict is known in advance.
import { engine, fromTemplate, git, type EngineResult } from './engine.ts';
import fs from 'node:fs';
import { tmpDir } from './tmp.ts';
import path from 'node:path';

export { ROOT, git } from './engine.ts';

export type Result = EngineResult;

/** An engine script (bundled by test/global-build.ts) run on a repository. */
export function run(script: string, args: string[], cwd: string): Result {
  return engine(script, args, cwd, { AUTOLOOP_DEBUG: '' });
}

const BENCH = `
const fs = require('node:fs');
const text = fs.readFileSync('src/value.txt', 'utf8');
if (text.includes('crash')) { console.error('boom'); process.exit(3); }
console.log('METRIC score=' + Number.parseFloat(text));
console.log('METRIC other=' + (fs.existsSync('lib/other.txt') ? Number.parseFloat(fs.readFileSync('lib/other.txt', 'utf8')) : 0));
`;

/**
 * BENCH in shell builtins: the same two metrics (the files hold plain numbers
 * in these tests) and the same crash, without a Node start per sample (~0.05 s
 * of CPU each), for tests whose subject is not the benchmark.
 */
const SHELL_BENCH = `read -r v < src/value.txt
case "$v" in *crash*) echo boom >&2; exit 3;; esac
o=0; if [ -f lib/other.txt ]; then read -r o < lib/other.txt; fi
echo "METRIC score=$v"
echo "METRIC other=$o"
`;

/**
 * A git repository on branch main with the benchmark, one commit. shell: the
 * benchmark is bench.sh (SHELL_BENCH), which init() then runs.
 */
export function benchRepo(value = '100', opts: { shell?: boolean } = {}): string {
  const dir = tmpDir('autoloop-chain-');
  const bench: Record<string, string> = opts.shell ? { 'bench.sh': SHELL_BENCH } : { 'bench.cjs': BENCH };
  const files: Record<string, string> = { ...bench, 'src/value.txt': value, 'lib/other.txt': '50', 'README.md': 'fixture\n' };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Test User');
  git(dir, 'config', 'user.email', 'test@example.invalid');
  git(dir, 'config', 'commit.gpgsign', 'false');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'initial');
  return dir;
}

export function write(repo: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  fs.writeFileSync(path.join(repo, rel), text);
}

export function read(repo: string, rel: string): string {
  return fs.readFileSync(path.join(repo, rel), 'utf8');
}

export function init(repo: string, name: string, extra: string[] = []): Result {
  const command = fs.existsSync(path.join(repo, 'bench.sh')) ? 'sh bench.sh' : 'node bench.cjs';
  return run('init-experiment', ['--name', name, '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', 'src/**', '--json', ...extra], repo);
}

/**
 * A fresh copy of a state build() reaches, built once per test file and key
 * (fromTemplate). Only states that name no absolute path of their own: a
 * best's worktree (its gitdir files hold its path) makes it throw.
 */
export function fromState(key: string, build: () => string): string {
  return fromTemplate(key, () => {
    const dir = build();
    const exps = path.join(dir, '.autoloop', 'experiments');
    const trees = fs.existsSync(exps) ? fs.readdirSync(exps).filter((slug) => fs.existsSync(path.join(exps, slug, 'best'))) : [];
    if (fs.existsSync(path.join(dir, '.git', 'worktrees')) || trees.length > 0) throw new Error(`template ${key} holds a best worktree: it names its own path`);
    return dir;
  });
}

/** One iteration: optionally set src/value.txt, run, log. Fails loudly when the engine does. */
export function step(repo: string, description: string, value?: string, file = 'src/value.txt'): { run: Result; log: Result } {
  if (value !== undefined) write(repo, file, value);
  const r = run('run-experiment', ['--json'], repo);
  if (r.code !== 0) throw new Error(`run-experiment failed: ${r.stderr}`);
  const l = run('log-experiment', ['--description', description, '--json'], repo);
  if (l.code !== 0) throw new Error(`log-experiment failed: ${l.stderr}`);
  return { run: r, log: l };
}

export function expDir(repo: string, slug: string): string {
  return path.join(repo, '.autoloop', 'experiments', slug);
}

export function ledger(repo: string, slug: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(path.join(expDir(repo, slug), 'ledger.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/**
 * Make an experiment's run index disagree with its ledger: its last result
 * record (32 bytes, kind 1) names another run, so its ledger line no longer
 * reads back as that run and the engine must read every line instead.
 * Returns the index's path and the bytes it was left with.
 */
export function misnameLastIndexedResult(repo: string, slug: string): { idx: string; buf: Buffer } {
  const idx = path.join(expDir(repo, slug), 'runs.idx');
  const buf = fs.readFileSync(idx);
  let at = buf.length - 32;
  while (at >= 0 && buf[at] !== 1) at -= 32;
  if (at < 0) throw new Error(`${idx} holds no result record`);
  buf.writeDoubleLE(buf.readDoubleLE(at + 24) + 1, at + 24);
  fs.writeFileSync(idx, buf);
  return { idx, buf };
}
