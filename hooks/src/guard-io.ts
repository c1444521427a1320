// What the Bash guard reads from outside the command's text: the current text
// of a script it sources or runs (and the `#!` line of a file run by its
// path), and a git alias as git itself would read it. Kept apart (and
// passed in) so the guard's decisions stay functions of what these return,
// and a caller that only needs the engine calls can skip the lookups.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gitFile } from '../../scripts/lib/git-binary.ts';

export interface GuardIO {
  /** The current text of a script, or null when it cannot be read (missing, not a file, too large). */
  readScript(abs: string): string | null;
  /** The first bytes of a regular file of any size (its `#!` line), or null when it is no file. */
  fileHead(abs: string): string | null;
  /** `alias.<name>` as git reads it in dir: its value, null when none is set, undefined when git could not say. */
  gitAlias(name: string, dir: string, env: Record<string, string | undefined>): string | null | undefined;
  /** Is there a `git-<name>` program, which git runs before it looks for an alias? */
  gitProgram(name: string, env: Record<string, string | undefined>): boolean;
}

/** Larger sourced files are refused unread: the lexer would make the hook call slow, and a library that big is no protocol step. */
export const MAX_SCRIPT_BYTES = 64 * 1024;
/** Where git keeps its own dashed programs on the usual installs (git --exec-path would cost a process). */
const EXEC_PATHS = ['/usr/lib/git-core', '/usr/libexec/git-core', '/usr/local/libexec/git-core', '/opt/homebrew/libexec/git-core'];

function readScript(abs: string): string | null {
  try {
    const st = fs.statSync(abs);
    if (!st.isFile() || st.size > MAX_SCRIPT_BYTES) return null;
    return fs.readFileSync(abs, 'utf8');
  } catch {
    return null;
  }
}

function fileHead(abs: string): string | null {
  let fd: number | null = null;
  try {
    // Not blocking: a FIFO in the file's place must not hang the hook.
    if (!fs.statSync(abs).isFile()) return null;
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    if (!fs.fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(256);
    return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('latin1');
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

function gitAlias(name: string, dir: string, env: Record<string, string | undefined>): string | null | undefined {
  // git looks an alias up only under a plain name; anything else is no alias.
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name)) return null;
  try {
    const out = execFileSync(gitFile(), ['config', '--get', `alias.${name}`], {
      cwd: dir,
      env: { ...env, GIT_TERMINAL_PROMPT: '0' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    return out.replace(/\n$/, '');
  } catch (err) {
    // Exit 1: the key is not set. Anything else (no such directory, a broken config): unknown.
    return (err as { status?: number | null }).status === 1 ? null : undefined;
  }
}

function gitProgram(name: string, env: Record<string, string | undefined>): boolean {
  const dirs = [...(env.GIT_EXEC_PATH ? [env.GIT_EXEC_PATH] : []), ...EXEC_PATHS, ...(env.PATH ?? '').split(path.delimiter)];
  return dirs.some((d) => {
    if (!path.isAbsolute(d)) return false;
    try {
      fs.accessSync(path.join(d, `git-${name}`), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const REAL_IO: GuardIO = { readScript, fileHead, gitAlias, gitProgram };

/** For callers that only want the engine calls a command makes: no process is started. */
export const NO_GIT_IO: GuardIO = { readScript, fileHead, gitAlias: () => undefined, gitProgram: () => false };
