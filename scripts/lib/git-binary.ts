// The git the engine starts, found on PATH once per engine call as execvp
// would find it (the first executable regular file named git), and started by
// that absolute name: a spawn by bare name retries execve in every PATH
// directory before git's (eight failed calls per git process on a PATH with
// ~/.cargo/bin, pyenv's shims, …). Null (start `git` by name, as before) when
// PATH has an empty or relative entry before git's, or holds no git: then
// execvp's own search decides, cwd and all.
import fs from 'node:fs';
import path from 'node:path';

/** The first executable regular file `name` in the directories of `pathVar`; null at an empty or relative entry before it, or none. */
export function onPath(name: string, pathVar: string): string | null {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) return null; // '' or relative: names the cwd, which differs per call
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here: execvp goes on to the next directory too
    }
  }
  return null;
}

let found: string | null | undefined;

export function gitBinary(): string | null {
  if (found === undefined) found = onPath('git', process.env.PATH ?? '');
  return found;
}

let real: string | null | undefined;

/** gitBinary() with its symbolic links resolved (where git looks for its system config), found once like it. */
export function gitBinaryReal(): string | null {
  if (real === undefined) {
    const bin = gitBinary();
    try {
      real = bin && fs.realpathSync(bin);
    } catch {
      real = bin;
    }
  }
  return real;
}

/** What to pass to spawn/execFile for git. */
export const gitFile = (): string => gitBinary() ?? 'git';
