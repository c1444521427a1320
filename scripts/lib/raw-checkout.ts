// The engine's checkouts of a few paths (a revert, repair's restores) write
// the bytes the commit holds, as they are: no attribute converts them. The
// engine's blobs are the work tree's bytes as measured (hash-object
// --no-filters, loose-object.ts), and `.git/info/attributes` or an untracked
// `.gitattributes` outside the scope stay writable to the code under test. An
// `eol=crlf`, `ident` or `working-tree-encoding` rule planted there would have
// git's checkout write other bytes than were measured (which git's status,
// through the same rule, then shows as clean), or fail on every call (bytes the
// encoding cannot convert). So where any attributes file can apply, the blobs
// are written by the engine itself (`git cat-file blob`, streamed into the
// file), and the index takes the commit's entries; elsewhere git's own
// checkout does the same, and also records the files' stat in the index.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { diffSettingsConfigured, firstLine, gitBlobInto, gitTry, gitWithInput } from './gitcmd.ts';
import { attributesMayApply } from './numstat.ts';
import { batches } from './workspace-base.ts';
import { inOwnFolders } from './owner-write.ts';

const LITERAL = { GIT_LITERAL_PATHSPECS: '1' };

interface Entry {
  mode: string;
  oid: string;
  path: string;
}

async function run(root: string, args: string[], input?: string): Promise<string> {
  const r = input === undefined ? await gitTry(root, args, LITERAL) : await gitWithInput(root, args, input, LITERAL);
  if (r.code !== 0) throw new Error(`git ${args[0]}: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
  return r.stdout;
}

/** The entries `rev` holds for these paths (files, symbolic links, submodules). */
async function entriesOf(root: string, rev: string, paths: readonly string[]): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const chunk of batches(paths)) {
    for (const line of (await run(root, ['ls-tree', '-r', '-z', rev, '--', ...chunk])).split('\0')) {
      const m = /^(\d+) \w+ ([0-9a-f]+)\t([\s\S]+)$/.exec(line);
      if (m) out.push({ mode: m[1] as string, oid: m[2] as string, path: m[3] as string });
    }
  }
  return out;
}

/** A blob's bytes into an open file, streamed by git (no size limit, nothing converted). */
function blobInto(root: string, oid: string, fd: number): void {
  const why = gitBlobInto(root, oid, fd);
  if (why !== null) throw new Error(`git cat-file: ${why}`);
}

/** Make room for `rel`: a file or link standing where one of its directories goes is taken away (a revert moved what it replaces aside first). */
function parentDir(root: string, rel: string): string {
  const dir = path.dirname(path.join(root, rel));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    for (let d = dir; d.length > root.length; d = path.dirname(d)) {
      const st = fs.lstatSync(d, { throwIfNoEntry: false });
      if (st && !st.isDirectory()) fs.rmSync(d, { force: true });
    }
    fs.mkdirSync(dir, { recursive: true });
  }
  return dir;
}

function writeEntry(root: string, e: Entry): void {
  const abs = path.join(root, e.path);
  const dir = parentDir(root, e.path);
  if (e.mode === '160000') {
    fs.mkdirSync(abs, { recursive: true });
    return;
  }
  const tmp = path.join(dir, `.autoloop-checkout-${randomBytes(6).toString('hex')}`);
  try {
    // The mode as git gives it: 0666 or 0777, less the umask (open applies it).
    const fd = fs.openSync(tmp, 'wx', e.mode === '100755' ? 0o777 : 0o666);
    try {
      blobInto(root, e.oid, fd);
    } finally {
      fs.closeSync(fd);
    }
    if (e.mode === '120000') {
      const target = fs.readFileSync(tmp, 'utf8');
      fs.rmSync(tmp, { force: true });
      fs.rmSync(abs, { force: true });
      fs.symlinkSync(target, abs);
      return;
    }
    // A directory in the file's place (a revert moved its files aside first) goes: rename cannot replace one.
    if (fs.lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) fs.rmSync(abs, { recursive: true, force: true });
    fs.renameSync(tmp, abs);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Put `paths` in the work tree and the index as `rev` holds them, byte for
 * byte (paths `rev` does not hold are the caller's: it removes them).
 */
export async function checkoutExact(root: string, objects: string | null, rev: string, paths: readonly string[]): Promise<void> {
  if (!paths.length) return;
  // Their folders may be ones the user's code made read-only (owner-write.ts).
  await inOwnFolders(root, paths, () => checkoutPaths(root, objects, rev, paths));
}

async function checkoutPaths(root: string, objects: string | null, rev: string, paths: readonly string[]): Promise<void> {
  if (objects && !diffSettingsConfigured(root) && !attributesMayApply(root, objects, paths)) {
    for (const chunk of batches(paths)) await run(root, ['checkout', '-q', rev, '--', ...chunk]);
    return;
  }
  const entries = await entriesOf(root, rev, paths);
  for (const e of entries) writeEntry(root, e);
  await run(root, ['update-index', '-z', '--index-info'], entries.map((e) => `${e.mode} ${e.oid}\t${e.path}\0`).join(''));
  // The stat of the files just written, so that status need not read them again (exit 1: some differ through an attribute).
  await gitTry(root, ['update-index', '-q', '--refresh'], LITERAL);
}
