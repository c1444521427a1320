// End-to-end install: the plugin repository is served over git's smart HTTP
// protocol on 127.0.0.1 (standing in for GitHub), then the real, pinned
// Claude Code CLI adds it as a marketplace and installs the plugin into a
// fresh HOME, exactly as a user would. Nothing is mocked. The install runs
// Claude Code's own `npm ci` on our lockfile, so the npm registry must be
// reachable.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, ensureClaude, REPO_ROOT } from './claude-cli.ts';
import { serveGit, type GitHttpServer } from './git-http-server.ts';

const NODE_MODULES_CAP_MB = 150;
const pluginVersion: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, '.claude-plugin', 'plugin.json'), 'utf8')).version;

let claude = '';
let work = '';
let home = '';
let project = '';
let server: GitHttpServer | undefined;
let repoUrl = '';

/**
 * The files that would be committed: tracked files plus untracked files that
 * .gitignore does not exclude (so the test covers uncommitted work too). Only
 * read-only git commands touch the real repository.
 */
function pluginFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...new Set(out.split('\0').filter(Boolean))];
}

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
function exec(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let error: Error | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
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

function run(args: string[], timeout = 300_000): Promise<Result> {
  // The API URL is never contacted by plugin commands; a closed port makes sure.
  const env = cliEnv(home, 'http://127.0.0.1:9', { GIT_TERMINAL_PROMPT: '0' });
  return exec(claude, args, { cwd: project, env, timeout });
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

  // A fresh repository holding a snapshot of the plugin's working tree.
  const src = path.join(work, 'src');
  for (const rel of pluginFiles()) {
    const from = path.join(REPO_ROOT, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(from);
    } catch {
      continue; // deleted in the working tree but still in the index
    }
    if (!st.isFile() && !st.isSymbolicLink()) continue;
    const to = path.join(src, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
    else fs.copyFileSync(from, to);
  }
  git(src, ['init', '-q', '-b', 'main']);
  git(src, ['add', '-A']);
  git(src, ['commit', '-q', '-m', 'snapshot of the plugin under test']);

  const served = path.join(work, 'served');
  fs.mkdirSync(served);
  git(work, ['clone', '-q', '--bare', src, path.join(served, 'autoloop.git')]);
  server = await serveGit(served);
  repoUrl = `${server.url}/autoloop.git`;
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
  }, 300_000);

  it('claude plugin install autoloop@autoloop succeeds', async () => {
    const r = await run(['plugin', 'install', 'autoloop@autoloop']);
    expect(r.status, describeRun(r)).toBe(0);
    expect(fs.existsSync(path.join(installDir(), '.claude-plugin', 'plugin.json')), describeRun(r)).toBe(true);
  }, 600_000);

  it('claude plugin list --json shows autoloop enabled', async () => {
    const r = await run(['plugin', 'list', '--json'], 120_000);
    expect(r.status, describeRun(r)).toBe(0);
    const parsed: unknown = JSON.parse(r.stdout);
    const entries: Record<string, unknown>[] = Array.isArray(parsed)
      ? parsed
      : Object.values(parsed as Record<string, unknown>).find(Array.isArray) ?? [];
    const ours = entries.find((e) => e.id === 'autoloop@autoloop' || e.name === 'autoloop');
    expect(ours, r.stdout).toBeDefined();
    expect(ours!.enabled, r.stdout).toBe(true);
    if ('version' in ours!) expect(ours!.version).toBe(pluginVersion);
  }, 120_000);

  it('the installed copy holds the plugin content and no git metadata', () => {
    const dir = installDir();
    for (const rel of ['skills/setup/SKILL.md', 'skills/run/SKILL.md', 'skills/chain/SKILL.md', 'agents/autoloop.md', 'agents/codebase-scout.md', 'references/protocol.md', 'package-lock.json']) {
      expect(fs.existsSync(path.join(dir, rel)), rel).toBe(true);
    }
    expect(fs.existsSync(path.join(dir, '.git'))).toBe(false);
  });

  it("Claude Code's npm ci installed the dependencies, without the CLI itself, under the size cap", () => {
    const nm = path.join(installDir(), 'node_modules');
    expect(fs.existsSync(nm), `no node_modules in ${installDir()}`).toBe(true);
    expect(fs.existsSync(path.join(nm, 'zod', 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(nm, 'yaml', 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(nm, '@anthropic-ai', 'claude-code'))).toBe(false);
    const mb = dirSize(nm) / (1024 * 1024);
    console.log(`installed node_modules: ${mb.toFixed(1)} MB (cap ${NODE_MODULES_CAP_MB} MB)`);
    expect(mb).toBeLessThan(NODE_MODULES_CAP_MB);
  });

  it('the installed dist/status.mjs answers --help or a one-line error, never a stack trace', async () => {
    const status = path.join(installDir(), 'dist', 'status.mjs');
    // dist/ is committed: an installed copy without it is broken, not a reason to skip.
    expect(fs.existsSync(status), `${status} is missing from the installed copy`).toBe(true);
    // An empty directory: no experiment, no git repository.
    const empty = fs.mkdtempSync(path.join(work, 'empty-'));
    for (const args of [['--help'], []]) {
      const r = await exec(process.execPath, [status, ...args], { cwd: empty, timeout: 60_000, env: { PATH: process.env.PATH, HOME: home } });
      const all = `${r.stdout}${r.stderr}`;
      expect(r.status, describeRun(r)).not.toBeNull();
      expect([0, 1, 2], describeRun(r)).toContain(r.status);
      expect(all, 'stack trace in output').not.toMatch(/^\s+at .+[:(]\d+:\d+\)?$/m);
      if (r.status !== 0) expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    }
  });
});
