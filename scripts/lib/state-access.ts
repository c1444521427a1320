// A loop's .autoloop/ that another user made, on a repository two users share:
// a user who may not write there cannot change the loop (run, log, repair...),
// and used to be told so by a bare EACCES on a lock file's temporary name.
// Said instead in one line: whose folder it is, and how the owner shares it.
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
