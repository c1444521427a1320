// Fixture repositories and a runner for whole `claude -p` sessions against the
// scripted model (mock-api.ts). A fixture is a small git repository with code
// to optimise (src/work.mjs), a benchmark that prints `METRIC time_ms=…`
// (bench/bench.mjs) and a check (bench/check.mjs); a fresh HOME per session.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ActiveFile } from '../../scripts/lib/schema.ts';
import type { ActiveFile as Active } from '../../scripts/lib/schema.ts';
import { cliEnv, REPO_ROOT } from './claude-cli.ts';

export const ALLOWED_TOOLS = 'Bash Read Edit Write Glob Grep Agent Skill';
export const ENGINE = ['init-experiment.mjs', 'run-experiment.mjs', 'log-experiment.mjs'] as const;

export interface Fixture {
  /** Scratch directory holding everything below. */
  dir: string;
  repo: string;
  home: string;
  cleanup(): void;
}

export interface FixtureOptions {
  /** Work cost in ms that the benchmark reports (deterministic, so verdicts are predictable). */
  cost?: number;
  /** Leave an uncommitted in-scope change (user's work in progress). */
  dirty?: boolean;
  /** Also commit bench/bench.sh: the same metric as bench.mjs, read by the shell (no Node start per sample). */
  shellBench?: boolean;
}

const WORK = (cost: number): string => `// The code under optimisation. The benchmark reports COST as time_ms so that
// verdicts in tests do not depend on machine noise.
export const COST = ${cost};

export function work(n = 1000) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}
`;

const BENCH = `import { COST, work } from '../src/work.mjs';
const r = work();
if (typeof r !== 'number') throw new Error('work() must return a number');
console.log('METRIC time_ms=' + COST);
`;

// COST read from src/work.mjs with shell builtins: the metric bench.mjs reports,
// for long sessions where a Node start per sample would be most of the test's CPU.
const SHELL_BENCH = `cost=
while IFS= read -r line; do
  case "$line" in 'export const COST = '*';') cost=\${line#'export const COST = '}; cost=\${cost%;} ;; esac
done <src/work.mjs
case "$cost" in '' | *[!0-9]*) echo "bench.sh: no COST in src/work.mjs" >&2; exit 1 ;; esac
echo "METRIC time_ms=$cost"
`;

const CHECK = `import { work } from '../src/work.mjs';
if (work(10) !== work(10)) { console.error('work() is not deterministic'); process.exit(1); }
console.log('checks ok');
`;

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
}

export function makeFixture(opts: FixtureOptions = {}): Fixture {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-e2e-')));
  const repo = path.join(dir, 'repo');
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
  fs.mkdirSync(path.join(repo, 'bench'));
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(repo, 'src', 'work.mjs'), WORK(opts.cost ?? 50));
  fs.writeFileSync(path.join(repo, 'bench', 'bench.mjs'), BENCH);
  fs.writeFileSync(path.join(repo, 'bench', 'check.mjs'), CHECK);
  if (opts.shellBench) fs.writeFileSync(path.join(repo, 'bench', 'bench.sh'), SHELL_BENCH);
  fs.writeFileSync(path.join(repo, 'README.md'), '# fixture\n\nA tiny project for autoloop session tests.\n');
  fs.writeFileSync(path.join(repo, 'package.json'), '{ "name": "fixture", "private": true, "type": "module" }\n');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 'test@example.com');
  git(repo, 'config', 'user.name', 'Test');
  git(repo, 'config', 'commit.gpgsign', 'false');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'fixture');
  if (opts.dirty) fs.appendFileSync(path.join(repo, 'src', 'work.mjs'), '// work in progress\n');
  return { dir, repo, home, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fixture with its own scratch directory and fresh HOME whose repository is
 * a copy of `repo` (a template a file set up once: a fixture after
 * init-experiment and a logged baseline names no absolute path of its own, so
 * the copy is an independent repository in the same state). Not for a state
 * with a best worktree (.git/worktrees/ holds absolute paths).
 */
export function copyFixture(repo: string): Fixture {
  if (fs.existsSync(path.join(repo, '.git', 'worktrees'))) throw new Error(`${repo} has worktrees: their gitdir files name absolute paths, so a copy is not independent`);
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-e2e-')));
  const home = path.join(dir, 'home');
  fs.cpSync(repo, path.join(dir, 'repo'), { recursive: true, verbatimSymlinks: true });
  fs.mkdirSync(home);
  return { dir, repo: path.join(dir, 'repo'), home, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function gitLog(repo: string): string[] {
  return git(repo, 'log', '--format=%s').split('\n');
}

/** A valid active.json for the fixture (checked against the engine's schema). */
export function activeFile(over: Partial<Active> = {}): Active {
  return ActiveFile.parse({
    version: 1,
    experiment: 'speed',
    loop: 'active',
    scope: ['src/**'],
    protect: ['bench/bench.mjs', 'bench/check.mjs'],
    writable: ['.autoloop/experiments/speed/program.md', '.autoloop/experiments/speed/ideas.md'],
    summary: 'Experiment speed: lower time_ms is better. Baseline 50 ms, best 50 ms; 1 run logged.',
    next_action: 'Change src/work.mjs to lower COST, then run run-experiment.mjs and log-experiment.mjs.',
    terminated_by: null,
    chain_allowed: false,
    runs: 1,
    stop_hook: { max_blocks: 20, max_idle_blocks: 3 },
    updated_at: new Date().toISOString(),
    ...over,
  });
}

export function writeActive(repo: string, over: Partial<Active> = {}): Active {
  const a = activeFile(over);
  fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
  const file = path.join(repo, '.autoloop', 'active.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(a, null, 2));
  fs.renameSync(`${file}.tmp`, file);
  return a;
}

/** A stand-in engine entry point (same name as the real one) for sessions that only need the claim. */
export function stubEngine(repo: string): string {
  const file = path.join(repo, 'tools', 'run-experiment.mjs');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, "console.log('stub engine: nothing measured');\n");
  return 'node tools/run-experiment.mjs';
}

/**
 * A plugin directory whose dist/ holds the engine bundles. Prefers the test
 * build of this run (AUTOLOOP_TEST_DIST, from test/global-build.ts: fresh and
 * private, so a concurrent `npm run build` cannot pull it away mid-session),
 * assembled as links to this repository plus that dist/ and copies of the
 * hooks bundles (dist/hooks*.cjs); else /work/main itself once its dist/ is built. Null when no
 * engine bundles exist anywhere.
 */
export function enginePluginRoot(): { root: string; cleanup(): void } | null {
  const own = path.join(REPO_ROOT, 'dist');
  const built = process.env.AUTOLOOP_TEST_DIST;
  if (built && ENGINE.every((f) => fs.existsSync(path.join(built, f))) && fs.existsSync(path.join(own, 'hooks.cjs'))) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-plugin-'));
    for (const entry of fs.readdirSync(REPO_ROOT)) {
      if (['dist', 'node_modules', '.git', '.cache'].includes(entry)) continue;
      fs.symlinkSync(path.join(REPO_ROOT, entry), path.join(root, entry));
    }
    fs.mkdirSync(path.join(root, 'dist'));
    for (const f of fs.readdirSync(built)) fs.symlinkSync(path.join(built, f), path.join(root, 'dist', f));
    for (const h of fs.readdirSync(own).filter((n) => /^hooks(-[a-z]+)?\.cjs$/.test(n))) fs.copyFileSync(path.join(own, h), path.join(root, 'dist', h));
    return { root, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
  }
  if (ENGINE.every((f) => fs.existsSync(path.join(own, f)))) return { root: REPO_ROOT, cleanup: () => undefined };
  return null;
}

/** What `claude -p --output-format json` prints at the end. */
export interface CliResult {
  session_id: string;
  result?: string;
  num_turns?: number;
  is_error?: boolean;
  terminal_reason?: string;
  permission_denials?: { tool_name: string; tool_input: Record<string, unknown> }[];
}

export interface Session {
  code: number | null;
  stdout: string;
  stderr: string;
  json: CliResult | null;
}

export interface SessionOptions {
  claude: string;
  fixture: Fixture;
  apiUrl: string;
  prompt: string;
  /** Extra CLI arguments (--agent autoloop, --resume <id>, …). */
  args?: string[];
  env?: Record<string, string>;
  /** --plugin-dir (this repository by default); null for none (the plugin is installed in HOME). */
  pluginDir?: string | null;
  timeoutMs?: number;
  /** Run with no permission flag at all (what the README tells users to do). */
  noFlags?: boolean;
}

/** One `claude -p` session. Asynchronous: the mock API lives in this process and must keep serving. */
export function runSession(o: SessionOptions): Promise<Session> {
  const perms = o.noFlags ? [] : ['--allowedTools', ALLOWED_TOOLS];
  const plugin = o.pluginDir === null ? [] : ['--plugin-dir', o.pluginDir ?? REPO_ROOT];
  const args = ['-p', o.prompt, ...plugin, '--output-format', 'json', ...perms, ...(o.args ?? [])];
  return new Promise((resolve) => {
    const child = execFile(
      o.claude,
      args,
      { cwd: o.fixture.repo, env: cliEnv(o.fixture.home, o.apiUrl, o.env), encoding: 'utf8', timeout: o.timeoutMs ?? 540_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        let json: CliResult | null = null;
        try {
          json = JSON.parse(stdout) as CliResult;
        } catch {
          json = null;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, json });
      },
    );
    child.stdin?.end();
  });
}
