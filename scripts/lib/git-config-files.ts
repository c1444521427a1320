// Whether the config git would read in a repository could set a key the
// engine asks about, told from the config files themselves without starting
// git: when none of them so much as mentions the key's name (nor an include,
// which may bring in any file), `git config --get-regexp` would find nothing,
// and the engine call starts one git process fewer. Any doubt — a file that
// exists but cannot be read, a layout not found from the work tree's `.git`,
// no git on PATH — answers "may", and the caller asks git as before.
//
// The files are those git reads with the engine's environment (gitcmd.ts
// drops every GIT_* variable, so GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM,
// GIT_CONFIG_NOSYSTEM and GIT_CONFIG_COUNT play no part): the system file at
// /etc/gitconfig or under the prefix git was installed in (the directory above
// its bin/, by the name PATH gives and by its real name), the user's
// ~/.gitconfig and XDG config, the repository's config and config.worktree.
// Read whole on every call (they are small): a change is seen at once, with
// nothing cached to go stale.
import fs from 'node:fs';
import path from 'node:path';
import { gitBinary, gitBinaryReal } from './git-binary.ts';
import { gitDirsOf } from './git-dirs.ts';

/** The config files git reads in the work tree whose top is `top` (some may not exist); null when they cannot be told. */
export function configFiles(top: string, env: NodeJS.ProcessEnv = process.env): string[] | null {
  const dirs = gitDirsOf(top);
  const bin = gitBinary();
  if (!dirs || !bin) return null;
  const prefixes = new Set([bin, gitBinaryReal() ?? bin].map((b) => path.dirname(path.dirname(b))));
  const home = env.HOME;
  const xdg = env.XDG_CONFIG_HOME;
  return [
    '/etc/gitconfig',
    ...[...prefixes].map((p) => path.join(p, 'etc', 'gitconfig')),
    ...(home ? [path.join(home, '.gitconfig'), path.join(home, '.config', 'git', 'config')] : []),
    ...(xdg ? [path.join(xdg, 'git', 'config')] : []),
    path.join(dirs.commonDir, 'config'),
    path.join(dirs.gitDir, 'config.worktree'),
  ];
}

/**
 * One config file as its readers here take it: its text; 'missing' where there is
 * no such file (git reads on without it); 'unreadable' where it is there but cannot
 * be read (git's reading cannot be told: a doubt, and the caller asks git).
 */
export function configText(file: string): { text: string } | 'missing' | 'unreadable' {
  try {
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable';
  }
}

/** Whether any of `files` mentions `words` or an include; a file there but unreadable counts as a mention. */
export function mayMention(files: readonly string[], words: RegExp): boolean {
  for (const f of files) {
    const read = configText(f);
    if (read === 'missing') continue;
    if (read === 'unreadable' || words.test(read.text) || /include/i.test(read.text)) return true;
  }
  return false;
}
