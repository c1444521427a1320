// A blob written into the repository's object store by this process: what
// `git hash-object -w --no-filters` does, without starting git. The capture
// before every run (what is kept is what was measured) wrote each changed
// file with one git process; the object is only zlib-deflated bytes under
// objects/<2 hex>/<rest>, named by its hash (the same as blob-id.ts).
//
// Written as git writes a loose object: to a temporary file in the fan-out
// directory (mode 0444), then hard-linked to its name, so a reader never sees
// a partial object and a concurrent writer of the same object wins or loses
// harmlessly; an object already there is only freshened (its mtime, which
// keeps `git gc` from pruning it). No fsync, as git's default (core.fsync
// leaves loose objects out); the commit that names the blob is git's own.
//
// Anything unusual returns null and the caller asks git instead: a
// repository layout not found from the work tree's `.git`, a config that
// changes how objects are written (a second object format kept in step,
// shared-repository permissions), a large file (read whole here), any error.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { objectIdOf } from './blob-id.ts';
import { gitDirsOf, readOrEmpty } from './git-dirs.ts';

/** Larger files go to git, which streams them. */
export const MAX_IN_PROCESS = 16 * 1024 * 1024;

// Loaded on first use: only a capture needs zlib (other entry points start without it).
type Zlib = typeof import('node:zlib');
let zlibMod: Zlib | undefined;
export function zlib(): Zlib {
  zlibMod ??= (typeof require === 'function' ? require('node:zlib') : createRequire(import.meta.url)('node:zlib')) as Zlib;
  return zlibMod;
}

/** Config that makes git write objects differently than below (checked loosely: a mention anywhere counts). */
const SPECIAL = /compatobjectformat|sharedrepository/i;

/**
 * The objects directory of the repository whose work tree top is `root`, as
 * git finds it from there (`.git` a directory, or a file naming a linked
 * worktree's git dir with its `commondir`); null when it cannot be told or
 * the config asks for more than plain loose objects.
 */
export function objectsDirOf(root: string): string | null {
  const dirs = gitDirsOf(root);
  if (!dirs) return null;
  try {
    for (const f of [path.join(dirs.commonDir, 'config'), path.join(dirs.gitDir, 'config.worktree')]) if (SPECIAL.test(readOrEmpty(f))) return null;
    const objects = path.join(dirs.commonDir, 'objects');
    return fs.statSync(objects).isDirectory() ? objects : null;
  } catch {
    return null;
  }
}

/** Writes an object (blob, tree, commit); returns its id (`hexLen` 40: sha1, 64: sha256), or null (then ask git). */
export function writeObject(objects: string, type: 'blob' | 'tree' | 'commit', body: Buffer, hexLen: number): string | null {
  const id = objectIdOf(type, body, hexLen);
  if (!id) return null;
  const dir = path.join(objects, id.slice(0, 2));
  const file = path.join(dir, id.slice(2));
  try {
    if (fs.existsSync(file)) {
      const now = new Date();
      try {
        fs.utimesSync(file, now, now);
      } catch {
        // not ours to touch: git would not freshen it either
      }
      return id;
    }
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `tmp_obj_${process.pid}_${randomBytes(4).toString('hex')}`);
    const data = zlib().deflateSync(Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]), { level: 1 });
    fs.writeFileSync(tmp, data, { mode: 0o444, flag: 'wx' });
    try {
      fs.linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // written meanwhile by someone else: the same bytes
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return id;
  } catch {
    return null;
  }
}

export const writeBlob = (objects: string, bytes: Buffer, hexLen: number): string | null => writeObject(objects, 'blob', bytes, hexLen);

/** The blob of a work-tree path (a regular file's bytes, a symlink's target); null: ask git. */
export function writePathBlob(objects: string, abs: string, st: fs.Stats, hexLen: number): string | null {
  try {
    if (st.isSymbolicLink()) return writeBlob(objects, fs.readlinkSync(abs, { encoding: 'buffer' }), hexLen);
    if (!st.isFile() || st.size > MAX_IN_PROCESS) return null;
    return writeBlob(objects, fs.readFileSync(abs), hexLen);
  } catch {
    return null;
  }
}
