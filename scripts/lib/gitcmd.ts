// A minimal git runner for chain and finalize: argument arrays only (execFile,
// no shell), the ambient GIT_* variables dropped (a GIT_DIR or GIT_INDEX_FILE
// inherited from a hook would point git somewhere else), no hooks of the
// user's run on the engine's own commands, errors as one line.
import { execFile } from 'node:child_process';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.toUpperCase().startsWith('GIT_')) out[k] = v;
  return { ...out, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', ...extra };
}

/** Run git; never throws for a non-zero exit (the caller decides). */
export function gitTry(cwd: string, args: readonly string[], extra: Record<string, string> = {}): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile('git', ['-c', 'core.quotepath=false', '-c', 'core.hooksPath=/dev/null', ...args], { cwd, env: env(extra), maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}

function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim() !== '') ?? s).replace(/^(fatal|error): /, '').trim();
}

/** Run git and return stdout; a failure becomes an Error with git's first line. */
export async function git(cwd: string, args: readonly string[], extra: Record<string, string> = {}): Promise<string> {
  const r = await gitTry(cwd, args, extra);
  if (r.code !== 0) throw new Error(`git ${args[0] ?? ''}: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
  return r.stdout;
}

/** The commit a revision names, or null. */
export async function revParse(cwd: string, rev: string): Promise<string | null> {
  const r = await gitTry(cwd, ['rev-parse', '-q', '--verify', `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Tracked files with uncommitted changes (staged or not), sorted. */
export async function trackedChanges(cwd: string): Promise<string[]> {
  const out = await git(cwd, ['status', '--porcelain=v1', '-z', '--no-renames', '--untracked-files=no']);
  const files = new Set<string>();
  for (const entry of out.split('\0')) if (entry.length >= 4) files.add(entry.slice(3));
  return [...files].sort();
}

/** The checked-out branch (short name), or null on a detached HEAD. */
export async function currentBranch(cwd: string): Promise<string | null> {
  const r = await gitTry(cwd, ['symbolic-ref', '-q', '--short', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Who commits: the user's identity, or autoloop's when none is configured (never fail halfway). */
export async function identityEnv(cwd: string): Promise<Record<string, string>> {
  const a = await gitTry(cwd, ['var', 'GIT_AUTHOR_IDENT']);
  const c = await gitTry(cwd, ['var', 'GIT_COMMITTER_IDENT']);
  if (a.code === 0 && c.code === 0) return {};
  return { GIT_AUTHOR_NAME: 'autoloop', GIT_AUTHOR_EMAIL: 'autoloop@localhost', GIT_COMMITTER_NAME: 'autoloop', GIT_COMMITTER_EMAIL: 'autoloop@localhost' };
}
