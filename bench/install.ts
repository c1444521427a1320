// The marketplace install as a user gets it: the working tree is committed to
// a scratch repository, served over git's smart HTTP on 127.0.0.1, and the
// pinned Claude Code CLI adds it and installs the plugin into a fresh HOME.
// Prints the install's time (target <= 10 s on the 2-core machine), the same
// as a ratio against the CLI's bare start-up measured in this run, and the
// installed node_modules size (the test caps it at 15 MB).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliEnv, ensureClaude, REPO_ROOT } from '../test/e2e/claude-cli.ts';
import { serveGit } from '../test/e2e/git-http-server.ts';

const claude = ensureClaude();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-install-'));
const home = path.join(work, 'home');
fs.mkdirSync(home);
const git = (cwd: string, args: string[]) =>
  execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd, stdio: 'pipe' });

/** Seconds a CLI call takes; asynchronous because the git server lives in this process. */
function timed(args: string[]): Promise<number> {
  const env = cliEnv(home, 'http://127.0.0.1:9', { GIT_TERMINAL_PROMPT: '0' });
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(claude, args, { cwd: work, env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e9) : reject(new Error(`claude ${args.join(' ')}: exit ${code}`))));
  });
}

function size(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).reduce((n, e) => (e.isFile() ? n + fs.statSync(path.join(e.parentPath, e.name)).size : n), 0);
}

const src = path.join(work, 'src');
const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
for (const rel of files) {
  const from = path.join(REPO_ROOT, rel);
  if (!fs.existsSync(from) || !fs.lstatSync(from).isFile()) continue;
  fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
  fs.copyFileSync(from, path.join(src, rel));
}
git(src, ['init', '-q', '-b', 'main']);
git(src, ['add', '-A']);
git(src, ['commit', '-q', '-m', 'snapshot']);
fs.mkdirSync(path.join(work, 'served'));
git(work, ['clone', '-q', '--bare', src, path.join(work, 'served', 'autoloop.git')]);
const server = await serveGit(path.join(work, 'served'));
try {
  const version = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, '.claude-plugin', 'plugin.json'), 'utf8')).version as string;
  const starts = [await timed(['--version']), await timed(['--version']), await timed(['--version'])].sort((a, b) => a - b);
  await timed(['plugin', 'marketplace', 'add', `${server.url}/autoloop.git`]);
  const install = await timed(['plugin', 'install', 'autoloop@autoloop']);
  const mb = size(path.join(home, '.claude', 'plugins', 'cache', 'autoloop', 'autoloop', version, 'node_modules')) / 2 ** 20;
  console.log(`install.seconds ${install.toFixed(1)} s (target <= 10 s), ${(install / starts[1]!).toFixed(1)}x a bare claude --version (${starts[1]!.toFixed(2)} s)`);
  console.log(`install.node_modules ${mb.toFixed(1)} MB (target <= 15 MB)`);
} finally {
  await server.close();
  fs.rmSync(work, { recursive: true, force: true });
}
