// The keep's branch update written by this process: what
// `git update-ref -m <msg> refs/heads/<branch> <new> <old>` does in the files
// backend, one git process fewer per keep, where every step is the plain one:
// - the ref's lock (`<ref>.lock`, created exclusively) and HEAD's (HEAD names
//   the branch, so git writes HEAD's reflog too and locks it for that);
// - under the locks, the compare-and-swap: the loose ref, else its line in
//   packed-refs, must be `old`;
// - the reflog lines of the branch and of HEAD (core.logAllRefUpdates is
//   unset: git's default for a work tree creates them), with the committer
//   identity and zone git would take (commit-ident.ts, tz-offset.ts);
// - the lock renamed onto the ref, HEAD's lock removed. No fsync: git's
//   default (core.fsync) leaves references out.
// Anything else returns false before anything is written, and git is asked
// (then git gives its own refusal, e.g. for a branch moved under us): a
// lock already there, a symbolic or unreadable ref, HEAD naming another ref, a
// config that mentions what changes any of this (logAllRefUpdates, fsync,
// sharedRepository, a ref storage other than files, precomposeUnicode, an
// include), an identity or zone in doubt.
import fs from 'node:fs';
import path from 'node:path';
import { configFiles, configText, mayMention } from './git-config-files.ts';
import { gitDirsOf, readOrEmpty } from './git-dirs.ts';
import { repoIdent } from './loose-commit.ts';
import { localGitTz } from './tz-offset.ts';

/** Config that changes how or whether git writes a ref and its logs (logAllRefUpdates apart: below). */
const REF_CONFIG = /fsync|sharedrepository|refstorage|precomposeunicode/i;

/**
 * Whether every mention of logAllRefUpdates in this config text is `[core]`'s
 * plain `logallrefupdates = true` (what `git init` writes in a work tree: git's
 * default there too). Pure.
 */
export function reflogsPlain(text: string): boolean {
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) section = line.toLowerCase();
    if (!/logallrefupdates/i.test(line)) continue;
    if (section !== '[core]' || !/^logallrefupdates\s*=\s*true$/i.test(line)) return false;
  }
  return true;
}

function configPlain(files: readonly string[]): boolean {
  if (mayMention(files, REF_CONFIG)) return false;
  return files.every((f) => {
    const read = configText(f);
    return read === 'missing' || (read !== 'unreadable' && reflogsPlain(read.text));
  });
}

/** The ref's value in a packed-refs text, or null. Pure. */
export function packedValue(text: string, ref: string): string | null {
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0 && line.slice(sp + 1) === ref && /^[0-9a-f]{40,64}$/.test(line.slice(0, sp))) return line.slice(0, sp);
  }
  return null;
}

/** One reflog line, as git writes it. Pure. */
export function reflogLine(old: string, next: string, who: { name: string; email: string }, when: number, tz: string, msg: string): string {
  return `${old} ${next} ${who.name} <${who.email}> ${when} ${tz}\t${msg}\n`;
}

/**
 * Takes a lock file, held open as git holds its own (the engine's sweep of stale
 * locks, git-locks.ts, takes a lock no process holds open for a leftover); null
 * when it is there already (or anything fails).
 */
function lock(file: string): number | null {
  try {
    return fs.openSync(file, 'wx', 0o666);
  } catch {
    return null;
  }
}

const close = (fd: number) => {
  try {
    fs.closeSync(fd);
  } catch {
    // closed already
  }
};

/**
 * Moves refs/heads/<branch> from `old` to `next`, HEAD being on it; true when
 * done here, false when nothing was written and git must do it. `now`: unix seconds.
 */
export function updateBranchRef(root: string, branch: string, next: string, old: string, msg: string, now: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const dirs = gitDirsOf(root);
  const files = configFiles(root, env);
  const ref = `refs/heads/${branch}`;
  if (!dirs || !files || !configPlain(files) || !/^[A-Za-z0-9._/-]+$/.test(branch) || branch.split('/').some((p) => p === '' || p === '.' || p === '..')) return false;
  // A message git stores as given (it folds whitespace runs and would keep no control character).
  if (!/^[0-9a-f]+$/.test(next + old) || next.length !== old.length || !/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(msg)) return false;
  const who = repoIdent(root, env);
  const tz = who && localGitTz(now, env);
  if (!who || !tz) return false;
  const refFile = path.join(dirs.commonDir, ref);
  const headFile = path.join(dirs.gitDir, 'HEAD');
  if (readOrEmpty(headFile) !== `ref: ${ref}\n`) return false;
  try {
    fs.mkdirSync(path.dirname(refFile), { recursive: true }); // pack-refs may have taken the folder away; git makes it again too
  } catch {
    return false;
  }
  const refLock = lock(`${refFile}.lock`);
  if (refLock === null) return false;
  let done = false;
  let refOpen = true; // closed once only: a descriptor number closed twice may be another thread's by then
  try {
    const headLock = lock(`${headFile}.lock`);
    if (headLock === null) return false;
    try {
      // Under both locks: HEAD still on the branch, and the branch still at `old`.
      if (readOrEmpty(headFile) !== `ref: ${ref}\n`) return false;
      let loose: string | null = null;
      try {
        loose = fs.readFileSync(refFile, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return false;
      }
      const current = loose === null ? packedValue(readOrEmpty(path.join(dirs.commonDir, 'packed-refs')), ref) : /^([0-9a-f]{40,64})\n$/.exec(loose)?.[1] ?? null;
      if (current !== old) return false;
      fs.writeSync(refLock, `${next}\n`);
      const line = reflogLine(old, next, who, now, tz, msg);
      for (const log of [path.join(dirs.gitDir, 'logs', 'HEAD'), path.join(dirs.commonDir, 'logs', ref)]) {
        fs.mkdirSync(path.dirname(log), { recursive: true });
        fs.appendFileSync(log, line, { mode: 0o666 });
      }
      refOpen = false;
      fs.closeSync(refLock);
      fs.renameSync(`${refFile}.lock`, refFile);
      done = true;
      return true;
    } catch {
      return false; // an I/O error: git does it (at worst a reflog line twice)
    } finally {
      close(headLock);
      fs.rmSync(`${headFile}.lock`, { force: true });
    }
  } finally {
    if (refOpen) close(refLock);
    if (!done) fs.rmSync(`${refFile}.lock`, { force: true });
  }
}
