// The plugin as a user gets it: a snapshot of this working tree committed to a
// bare repository, served over git's smart HTTP protocol on 127.0.0.1 (standing
// in for GitHub), added as a marketplace and installed by the real CLI into a
// given HOME. Processes run asynchronously: the git server lives in this
// process, and a synchronous client would deadlock it.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliEnv, REPO_ROOT } from './claude-cli.ts';
import { serveGit, type GitHttpServer } from './git-http-server.ts';

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export function exec(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }): Promise<Result> {
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
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, error });
    });
  });
}

const describe = (r: Result): string => `exit=${r.status}${r.error ? ` error=${r.error.message}` : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Tracked files plus untracked ones .gitignore keeps (uncommitted work is part of the snapshot). */
function pluginFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return [...new Set(out.split('\0').filter(Boolean))];
}

function git(cwd: string, home: string, args: string[]): void {
  execFileSync('git', ['-c', 'user.name=autoloop test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    stdio: 'pipe',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: home },
  });
}

/** A bare repository `<work>/served/autoloop.git` holding a snapshot of the working tree, served over HTTP. */
export async function serveSnapshot(work: string): Promise<{ server: GitHttpServer; url: string }> {
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
  git(src, work, ['init', '-q', '-b', 'main']);
  git(src, work, ['add', '-A']);
  git(src, work, ['commit', '-q', '-m', 'snapshot of the plugin under test']);
  const served = path.join(work, 'served');
  fs.mkdirSync(served);
  git(work, work, ['clone', '-q', '--bare', src, path.join(served, 'autoloop.git')]);
  const server = await serveGit(served);
  return { server, url: `${server.url}/autoloop.git` };
}

/**
 * `claude plugin marketplace add <url>` then `claude plugin install autoloop@autoloop`
 * into `home`; returns the installed copy's directory. Throws with the CLI's output on failure.
 */
export async function installFromMarketplace(claude: string, home: string, cwd: string, url: string): Promise<string> {
  // Plugin commands never call the model API; a closed port makes sure.
  const env = cliEnv(home, 'http://127.0.0.1:9', { GIT_TERMINAL_PROMPT: '0' });
  for (const args of [['plugin', 'marketplace', 'add', url], ['plugin', 'install', 'autoloop@autoloop']]) {
    const r = await exec(claude, args, { cwd, env, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`claude ${args.join(' ')} failed: ${describe(r)}`);
  }
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, '.claude-plugin', 'plugin.json'), 'utf8')) as { version: string }).version;
  const dir = path.join(home, '.claude', 'plugins', 'cache', 'autoloop', 'autoloop', version);
  if (!fs.existsSync(path.join(dir, 'dist', 'run-experiment.mjs'))) throw new Error(`no installed engine at ${dir}/dist`);
  return dir;
}
