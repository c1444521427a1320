// End-to-end install: the plugin repository is served over git's smart HTTP
// protocol on 127.0.0.1 (standing in for GitHub), then the real, pinned
// Claude Code CLI adds it as a marketplace and installs the plugin into a
// fresh HOME, exactly as a user would. Nothing is mocked. The install runs
// Claude Code's own dependency step on our lockfile: the plugin itself lists
// no npm dependency (dist/ is self-contained; what a clone needs lives in the
// dev/ workspace), so that step must leave the installed copy lean.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, ensureClaude, REPO_ROOT } from './claude-cli.ts';
import { startMockApi, text } from './mock-api.ts';
import { type GitHttpServer } from './git-http-server.ts';
import { serveSnapshot } from './marketplace.ts';

// The installed plugin's node_modules (none today). Size is deterministic; the
// install's time is only printed here (bench/install.ts measures it).
const NODE_MODULES_CAP_MB = 15;
const pluginVersion: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, '.claude-plugin', 'plugin.json'), 'utf8')).version;

let claude = '';
let work = '';
let home = '';
let project = '';
let server: GitHttpServer | undefined;
let repoUrl = '';
let installSeconds = NaN;

function git(cwd: string, args: string[]): void {
  execFileSync('git', ['-c', 'user.name=autoloop test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    stdio: 'pipe',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work },
  });
}

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/**
 * Run a process without blocking the event loop: the git server lives in
 * this process, so a synchronous spawn of a client would deadlock it.
 */
function exec(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeout: number; input?: string }): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdin?.end(opts.input);
    let stdout = '';
    let stderr = '';
    let error: Error | undefined;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      error = new Error(`timed out after ${opts.timeout} ms`);
      child.kill('SIGKILL');
    }, opts.timeout);
    child.on('error', (e) => (error = e));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, error });
    });
  });
}

function run(args: string[], timeout = 300_000, apiUrl = 'http://127.0.0.1:9'): Promise<Result> {
  // Plugin commands never contact the API; a closed port makes sure.
  const env = cliEnv(home, apiUrl, { GIT_TERMINAL_PROMPT: '0' });
  return exec(claude, args, { cwd: project, env, timeout });
}

/** The status line as the README tells users to set it up (in ~/.claude/settings.json, run by a shell), for a repository. */
function statusLine(work: string, repo: string): Promise<Result> {
  return exec('sh', ['-c', 'sh ~/.claude/plugins/data/autoloop-autoloop/statusline.sh'], { cwd: work, env: { PATH: process.env.PATH, HOME: home }, timeout: 60_000, input: JSON.stringify({ cwd: path.join(work, repo) }) });
}

function describeRun(r: Result): string {
  return `exit=${r.status} signal=${r.signal ?? ''}${r.error ? ` error=${r.error.message}` : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\nserver log:\n${server?.log.slice(-20).join('\n')}`;
}

function dirSize(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else total += fs.lstatSync(p).size;
    }
  }
  return total;
}

const installDir = () => path.join(home, '.claude', 'plugins', 'cache', 'autoloop', 'autoloop', pluginVersion);

beforeAll(async () => {
  claude = ensureClaude();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-install-'));
  home = path.join(work, 'home');
  project = path.join(work, 'project');
  fs.mkdirSync(home);
  fs.mkdirSync(project);

  // A fresh repository holding a snapshot of the plugin's working tree, served over HTTP.
  ({ server, url: repoUrl } = await serveSnapshot(work));
}, 900_000);

afterAll(async () => {
  await server?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('install from a git marketplace over smart HTTP', () => {
  it('the served repository can be cloned shallowly (server sanity)', async () => {
    const dest = path.join(work, 'probe');
    const r = await exec('git', ['clone', '-q', '--depth', '1', repoUrl, dest], {
      cwd: work,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      timeout: 120_000,
    });
    expect(r.status, describeRun(r)).toBe(0);
    expect(fs.existsSync(path.join(dest, '.claude-plugin', 'plugin.json'))).toBe(true);
  });

  it('claude plugin marketplace add <url> succeeds', async () => {
    const r = await run(['plugin', 'marketplace', 'add', repoUrl]);
    expect(r.status, describeRun(r)).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/autoloop/);
    expect(fs.existsSync(path.join(home, '.claude', 'plugins', 'marketplaces', 'autoloop', '.claude-plugin', 'marketplace.json'))).toBe(true);
  }, 900_000);

  it('claude plugin install autoloop@autoloop succeeds', async () => {
    const t0 = process.hrtime.bigint();
    const r = await run(['plugin', 'install', 'autoloop@autoloop']);
    installSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    expect(r.status, describeRun(r)).toBe(0);
    expect(fs.existsSync(path.join(installDir(), '.claude-plugin', 'plugin.json')), describeRun(r)).toBe(true);
  }, 600_000);

  it('claude plugin list --json shows autoloop enabled', async () => {
    const r = await run(['plugin', 'list', '--json'], 300_000);
    expect(r.status, describeRun(r)).toBe(0);
    const parsed: unknown = JSON.parse(r.stdout);
    const entries: Record<string, unknown>[] = Array.isArray(parsed)
      ? parsed
      : Object.values(parsed as Record<string, unknown>).find(Array.isArray) ?? [];
    const ours = entries.find((e) => e.id === 'autoloop@autoloop' || e.name === 'autoloop');
    expect(ours, r.stdout).toBeDefined();
    expect(ours!.enabled, r.stdout).toBe(true);
    if ('version' in ours!) expect(ours!.version).toBe(pluginVersion);
  }, 900_000);

  it('the installed copy holds the plugin content and no git metadata', () => {
    const dir = installDir();
    for (const rel of ['skills/setup/SKILL.md', 'skills/run/SKILL.md', 'skills/chain/SKILL.md', 'agents/autoloop.md', 'agents/codebase-scout.md', 'references/protocol.md', 'package-lock.json']) {
      expect(fs.existsSync(path.join(dir, rel)), rel).toBe(true);
    }
    expect(fs.existsSync(path.join(dir, '.git'))).toBe(false);
    // The hot entry points stay links to their CommonJS stubs (a faster start: scripts/build.mjs).
    expect(fs.lstatSync(path.join(dir, 'dist', 'run-experiment.mjs')).isSymbolicLink()).toBe(true);
  });

  it("the installed plugin's node_modules stays under the size cap, without test or build tooling", () => {
    const nm = path.join(installDir(), 'node_modules');
    const mb = fs.existsSync(nm) ? dirSize(nm) / (1024 * 1024) : 0;
    console.log(`installed node_modules: ${mb.toFixed(1)} MB (cap ${NODE_MODULES_CAP_MB} MB); claude plugin install took ${installSeconds.toFixed(1)} s`);
    expect(mb).toBeLessThanOrEqual(NODE_MODULES_CAP_MB);
    for (const tool of ['vitest', 'typescript', 'esbuild', 'fast-check', 'tsx', path.join('@anthropic-ai', 'claude-code')]) {
      expect(fs.existsSync(path.join(nm, tool)), `${tool} was installed with the plugin`).toBe(false);
    }
  });

  it('the installed copy runs a whole iteration, the dashboard and the guard with nothing but its own files', async () => {
    const dir = installDir();
    const repo = fs.mkdtempSync(path.join(work, 'repo-'));
    fs.mkdirSync(path.join(repo, 'src'));
    fs.writeFileSync(path.join(repo, 'src', 'v.txt'), '1\n');
    fs.writeFileSync(path.join(repo, 'bench.sh'), 'echo "METRIC score=$(cat src/v.txt)"\n');
    git(repo, ['init', '-q', '-b', 'main']);
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-q', '-m', 'init']);
    // No NODE_PATH and a HOME outside the repository: only the installed files can be found.
    const env = { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
    const node = async (script: string, args: string[]) => {
      const r = await exec(process.execPath, [path.join(dir, 'dist', script), ...args], { cwd: repo, env, timeout: 900_000 });
      expect(r.status, `${script} ${args.join(' ')}\n${describeRun(r)}`).toBe(0);
      return r.stdout;
    };
    await node('init-experiment.mjs', ['--name', 'lean', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**']);
    expect(JSON.parse(await node('run-experiment.mjs', ['--json']))).toMatchObject({ status: 'ok', primary: 1 });
    expect(JSON.parse(await node('log-experiment.mjs', ['--description', 'baseline', '--json']))).toMatchObject({ verdict: 'keep' });
    expect(await node('status.mjs', [])).toMatch(/lean/);
    expect(await node('dashboard.mjs', ['--json'])).toMatch(/"lean"/);
    const html = path.join(work, 'lean.html');
    await node('dashboard.mjs', ['--html', html]);
    expect(fs.readFileSync(html, 'utf8')).toMatch(/<html/i);
    // The guard, through the installed shim, as Claude Code calls it.
    const denied = await new Promise<Result>((resolve) => {
      const child = spawn('sh', [path.join(dir, 'hooks', 'run.sh'), 'pre-tool-use'], { cwd: repo, env: { ...env, CLAUDE_PLUGIN_ROOT: dir, CLAUDE_PROJECT_DIR: repo } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
      child.stdin.end(JSON.stringify({ session_id: 's', cwd: repo, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(repo, 'bench.sh'), old_string: '1', new_string: '0' } }));
    });
    expect(denied.status, describeRun(denied)).toBe(0);
    expect(denied.stdout, describeRun(denied)).toMatch(/"permissionDecision":\s*"deny"/);
  }, 600_000);

  it("a real session start points the stable status-line launcher at the installed copy", async () => {
    const repo = fs.readdirSync(work).find((d) => d.startsWith('repo-'));
    expect(repo, 'the iteration test made a repository with a loop').toBeDefined();
    const api = await startMockApi({ script: () => [text('Nothing to do.')] });
    try {
      const r = await run(['-p', 'hello', '--output-format', 'json'], 540_000, api.url);
      expect(r.status, describeRun(r)).toBe(0);
    } finally {
      await api.close();
    }
    const data = path.join(home, '.claude', 'plugins', 'data', 'autoloop-autoloop');
    expect(fs.readFileSync(path.join(data, 'plugin-root'), 'utf8').trim()).toBe(installDir());
    const line = await statusLine(work, repo!);
    expect(line.status, describeRun(line)).toBe(0);
    expect(line.stdout, describeRun(line)).toMatch(/^autoloop lean · best 1 · 1 run/);
  }, 600_000);

  it('the installed dist/status.mjs answers --help or a one-line error, never a stack trace', async () => {
    const status = path.join(installDir(), 'dist', 'status.mjs');
    // dist/ is committed: an installed copy without it is broken, not a reason to skip.
    expect(fs.existsSync(status), `${status} is missing from the installed copy`).toBe(true);
    // An empty directory: no experiment, no git repository.
    const empty = fs.mkdtempSync(path.join(work, 'empty-'));
    for (const args of [['--help'], []]) {
      const r = await exec(process.execPath, [status, ...args], { cwd: empty, timeout: 900_000, env: { PATH: process.env.PATH, HOME: home } });
      const all = `${r.stdout}${r.stderr}`;
      expect(r.status, describeRun(r)).not.toBeNull();
      expect([0, 1, 2], describeRun(r)).toContain(r.status);
      expect(all, 'stack trace in output').not.toMatch(/^\s+at .+[:(]\d+:\d+\)?$/m);
      if (r.status !== 0) expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    }
  });

  // The README: the status-line command "survives updates". The cache folder carries the
  // version; the launcher in the data folder must follow the copy the next session runs.
  it('after a plugin update, the next session start points the same status-line command at the new copy', async () => {
    const repo = fs.readdirSync(work).find((d) => d.startsWith('repo-'));
    expect(repo, 'the iteration test made a repository with a loop').toBeDefined();
    const next = `${pluginVersion}-next`;
    const src = path.join(work, 'src');
    const manifest = path.join(src, '.claude-plugin', 'plugin.json');
    fs.writeFileSync(manifest, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifest, 'utf8')), version: next }, null, 2));
    git(src, ['commit', '-q', '-am', `version ${next}`]);
    git(src, ['push', '-q', path.join(work, 'served', 'autoloop.git'), 'main']);
    for (const args of [['plugin', 'marketplace', 'update', 'autoloop'], ['plugin', 'update', 'autoloop@autoloop']]) {
      const r = await run(args);
      expect(r.status, describeRun(r)).toBe(0);
    }
    const nextDir = path.join(home, '.claude', 'plugins', 'cache', 'autoloop', 'autoloop', next);
    expect(fs.existsSync(path.join(nextDir, 'dist', 'statusline.mjs')), `${nextDir} was installed`).toBe(true);
    const api = await startMockApi({ script: () => [text('Nothing to do.')] });
    try {
      const r = await run(['-p', 'hello', '--output-format', 'json'], 540_000, api.url);
      expect(r.status, describeRun(r)).toBe(0);
    } finally {
      await api.close();
    }
    const data = path.join(home, '.claude', 'plugins', 'data', 'autoloop-autoloop');
    expect(fs.readFileSync(path.join(data, 'plugin-root'), 'utf8').trim()).toBe(nextDir);
    const line = await statusLine(work, repo!);
    expect(line.status, describeRun(line)).toBe(0);
    expect(line.stdout, describeRun(line)).toMatch(/^autoloop lean · best 1 · 1 run/);
  }, 900_000);
});
