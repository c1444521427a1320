// After `control repair` puts the best back over commits made by hand on the
// experiment's branch, those commits are kept under refs/autoloop/moved/…, and
// the files they changed go back to the best's bytes. The ref alone told the
// user nothing: the note names what was set aside and prints the command that
// brings it back, byte for byte, so no one takes their work for lost.
import { git } from './gitcmd.ts';

export interface MovedChange {
  path: string;
  /** The moved commits deleted it (repair put it back): nothing to check out. */
  deleted: boolean;
}

/** At most this many files named in the note (and in a checkout command that lists them). */
const SHOWN = 5;

/** `git diff --name-status -z --no-renames` as changes. Pure. */
export function parseNameStatus(out: string): MovedChange[] {
  const parts = out.split('\0');
  const changes: MovedChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const status = parts[i] as string;
    const p = parts[i + 1] as string;
    if (status && p) changes.push({ path: p, deleted: status.startsWith('D') });
  }
  return changes;
}

/** A word as a POSIX shell reads it literally (the printed command is for the user to paste). Pure. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function listed(paths: readonly string[]): string {
  return paths.slice(0, SHOWN).join(', ') + (paths.length > SHOWN ? `, … (${paths.length} in all)` : '');
}

/** What repair set aside from the tree, and how to get it back. '' when the moved commits changed nothing. Pure. */
export function movedNote(kept: string, saved: string, changes: readonly MovedChange[]): string {
  const back = changes.filter((c) => !c.deleted).map((c) => c.path);
  const gone = changes.filter((c) => c.deleted).map((c) => c.path);
  const out: string[] = [];
  if (back.length) {
    const cmd =
      back.length <= SHOWN
        ? `git checkout ${saved} -- ${back.map(shellWord).join(' ')}`
        : `git diff --name-only --no-renames --diff-filter=d -z ${kept.slice(0, 12)} ${saved} | xargs -0 git checkout ${saved} --`;
    out.push(`set aside from the tree (kept in that ref): ${listed(back)}; to get them back: ${cmd}`);
  }
  if (gone.length) out.push(`the moved commits also deleted ${listed(gone)}, back in the tree now (git rm to delete again)`);
  return out.join('; ');
}

/** The note for a moved head saved at `saved` (a ref), read from git; '' when git cannot say. */
export async function movedNoteOf(root: string, kept: string, saved: string): Promise<string> {
  try {
    const out = await git(root, ['diff', '--name-status', '-z', '--no-renames', kept, saved, '--']);
    return movedNote(kept, saved, parseNameStatus(out));
  } catch {
    return '';
  }
}
