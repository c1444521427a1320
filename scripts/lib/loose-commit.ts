// A keep's commit object written by this process: what
// `git commit-tree --no-gpg-sign <tree> -p <parent> -m <message>` writes, one
// git process fewer per keep. Only where every input of that object is known
// for sure: the identity (commit-ident.ts), the time zone (tz-offset.ts), the
// object format (the tree's id), a plain object store (loose-object.ts), and a
// message git would store as given (no NUL, no U+FFFE/U+FFFF, which git's
// UTF-8 check would rewrite), no core.fsync setting (git might flush it).
// Anything else returns null and git is asked.
// Like commit-tree, no hook runs and nothing is signed; unlike it, the tree
// and parent are not looked up: the caller wrote the one and read the other.
import path from 'node:path';
import { configFiles, mayMention } from './git-config-files.ts';
import { gitDirsOf } from './git-dirs.ts';
import { configIdent, type Ident } from './commit-ident.ts';
import { localGitTz } from './tz-offset.ts';
import { writeObject } from './loose-object.ts';

/** The commit object's body, as commit-tree lays it out. Pure. */
export function commitBody(tree: string, parent: string, who: Ident, when: number, tz: string, message: string): Buffer {
  const sig = `${who.name} <${who.email}> ${when} ${tz}`;
  const msg = message.endsWith('\n') ? message : `${message}\n`;
  return Buffer.from(`tree ${tree}\nparent ${parent}\nauthor ${sig}\ncommitter ${sig}\n\n${msg}`, 'utf8');
}

/** Whether git stores this message byte for byte. Pure. */
export const plainMessage = (m: string): boolean => !/[\0\uFFFE\uFFFF]/.test(m);

/** The identity git would use in the repository whose top is `root`, or null: ask git. */
export function repoIdent(root: string, env: NodeJS.ProcessEnv = process.env): Ident | null {
  const dirs = gitDirsOf(root);
  const files = configFiles(root, env);
  if (!dirs || !files) return null;
  return configIdent(files, path.join(dirs.commonDir, 'config'), path.join(dirs.gitDir, 'config.worktree'), env);
}

/** Writes the commit and returns its id, or null (then git is asked). `now`: unix seconds. */
export function writeCommit(root: string, objects: string, tree: string, parent: string, message: string, now: number, env: NodeJS.ProcessEnv = process.env): string | null {
  if (tree.length !== parent.length || !/^[0-9a-f]+$/.test(tree + parent) || !plainMessage(message)) return null;
  // core.fsync (or the older fsyncObjectFiles) may ask git to flush the object: git writes it then.
  const files = configFiles(root, env);
  if (!files || mayMention(files, /fsync/i)) return null;
  const who = repoIdent(root, env);
  const tz = who && localGitTz(now, env);
  if (!who || !tz) return null;
  return writeObject(objects, 'commit', commitBody(tree, parent, who, now, tz, message), tree.length);
}
