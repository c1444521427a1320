// A loop's .autoloop/ that another user made, on a repository two users share:
// a user who may not write there cannot change the loop (run, log, repair...),
// and used to be told so by a bare EACCES on a lock file's temporary name.
// Said instead in one line: whose folder it is, and how the owner shares it.
// A .autoloop/ its group may write is shared: what each user's engine makes
// there is made for the group too, whatever that user's umask (as git does
// for .git with core.sharedRepository), or a run dir B made 0755 could not be
// trimmed, pruned or repaired by A's engine later.
import fs from 'node:fs';

const DENIED = new Set(['EACCES', 'EPERM']);

/** The line for a write into `dir` denied to this user, or null (another error, or root). */
export function stateNotWritable(dir: string, e: unknown): string | null {
  if (!DENIED.has((e as NodeJS.ErrnoException).code ?? '')) return null;
  const me = process.getuid?.();
  if (me === undefined || me === 0) return null;
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  const whose = st ? `it belongs to uid ${st.uid}, group ${st.gid}, mode ${(st.mode & 0o7777).toString(8)}` : 'it cannot be read';
  return (
    `${dir} is not writable by you (uid ${me}): ${whose}; only a user who may write there can change this loop (status, dashboard and report only read it). ` +
    'To share the loop, its owner makes it group-writable for a group you are in (chgrp -R GROUP .autoloop; chmod -R g+rwX .autoloop; and umask 002 for both users)'
  );
}

/** When `dir` (the engine's state folder) is group-writable, this process's new files and folders are too. */
export function followSharedFolder(dir: string): void {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory() || (st.mode & 0o020) === 0) return;
  const mask = process.umask();
  // The group gets what the owner gets: the umask's group bits cleared (022 -> 002, 077 -> 007).
  if ((mask & 0o070) !== 0) process.umask(mask & ~0o070);
}
