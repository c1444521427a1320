// Real temporary directories and git repositories for the workspace tests.
// git runs through execFileSync with argument arrays, in a scrubbed
// environment so the machine's own git settings and hooks cannot interfere.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Config, type ConfigInput } from '../../scripts/lib/schema.ts';
import { experimentPaths, type ExperimentPaths } from '../../scripts/lib/paths.ts';

export const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

import { tmpDir } from './tmp.ts';
export { cleanupTmp, tmpDir } from './tmp.ts';

export function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toUpperCase().startsWith('GIT_')) env[k] = v;
  // No global or system config: the tests' repos say everything they need.
  env.GIT_CONFIG_NOSYSTEM = '1';
  env.GIT_CONFIG_GLOBAL = '/dev/null';
  return env;
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function write(root: string, rel: string, content: string | Buffer): void {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
}

export function read(root: string, rel: string): string | null {
  try {
    return fs.readFileSync(path.join(root, rel), 'utf8');
  } catch {
    return null;
  }
}

export function exists(root: string, rel: string): boolean {
  return fs.existsSync(path.join(root, rel));
}

/** A git repository on branch main with these files committed in one commit. */
export function makeRepo(files: Record<string, string>): string {
  const root = tmpDir('autoloop-repo-');
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'config', 'user.name', 'Test User');
  git(root, 'config', 'user.email', 'test@example.com');
  git(root, 'config', 'commit.gpgsign', 'false');
  for (const [rel, content] of Object.entries(files)) write(root, rel, content);
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'initial');
  return root;
}

/** A plain directory (no git) with these files. */
export function makeDir(files: Record<string, string>): string {
  const root = tmpDir('autoloop-dir-');
  for (const [rel, content] of Object.entries(files)) write(root, rel, content);
  return root;
}

export function makeConfig(over: Partial<ConfigInput> = {}): Config {
  return Config.parse({ name: 'exp', metric: 'time_ms', direction: 'lower', command: 'bash bench/run.sh', ...over });
}

export function expPaths(root: string, slug = 'exp'): ExperimentPaths {
  const exp = experimentPaths(root, slug);
  fs.mkdirSync(exp.dir, { recursive: true });
  return exp;
}

/** Paths listed by `git status --porcelain` with their codes, e.g. { 'a.txt': ' M' }. */
export function porcelain(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of git(root, 'status', '--porcelain=v1', '-z', '--untracked-files=all').split('\0')) {
    if (e.length > 3) out[e.slice(3)] = e.slice(0, 2);
  }
  return out;
}

/** Files changed by a commit (name-status against its parent). */
export function commitFiles(root: string, sha: string): string[] {
  return git(root, 'diff-tree', '--no-commit-id', '--name-only', '-r', '-z', sha).split('\0').filter(Boolean).sort();
}

/**
 * Run an ES module snippet in a child node process with tsx loaded, so it can
 * import the project's .ts modules. Resolves with the exit code/signal and output.
 */
export function runChild(
  code: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: PROJECT,
      env: { ...gitEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (c, signal) => resolve({ code: c, signal, stdout, stderr }));
  });
}

/** file:// URL of a project module, for `import()` inside runChild snippets. */
export function moduleUrl(rel: string): string {
  return new URL(`file://${path.join(PROJECT, rel)}`).href;
}
