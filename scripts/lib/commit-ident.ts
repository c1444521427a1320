// Who git's `commit-tree` would name as author and committer, told from the
// config files without starting git, where that is certain; null otherwise,
// and the caller runs commit-tree as before.
//
// gitcmd.ts drops every GIT_* variable, so GIT_AUTHOR_NAME and the rest never
// reach git; with user.name and user.email both set, git reads neither $EMAIL
// nor the passwd entry or host name. What is left is the config, read here by
// a strict subset of git's syntax: any line this reader might take otherwise
// than git (a continuation, a quote or backslash in a value we need, a header
// with more on its line) is a doubt. Also doubts: an include (any file may
// come in), author.*/committer.* (they override user.*), i18n.* (an encoding
// header), a system file or config.worktree naming the identity (git reads one
// system file of two, config.worktree only under an extension), and a name or
// email git would trim or clean (its "crud" rule) or that is empty.
import path from 'node:path';
import { configText } from './git-config-files.ts';

export interface Ident {
  name: string;
  email: string;
}

/** A config file's identity keys (user.name, user.email, last wins) and whether anything makes it doubtful. Pure. */
export function identKeys(text: string): { name?: string; email?: string; doubt: boolean; mentions: boolean } {
  const out: { name?: string; email?: string; doubt: boolean; mentions: boolean } = { doubt: false, mentions: false };
  if (/include/i.test(text) || text.includes('\r')) return { ...out, doubt: true, mentions: true };
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.endsWith('\\')) return { ...out, doubt: true, mentions: true };
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    // An unclosed quote is a config git refuses to read (then commit-tree would fail): ask it.
    if ((line.replace(/\\./g, '').match(/"/g)?.length ?? 0) % 2) return { ...out, doubt: true, mentions: true };
    if (line.startsWith('[')) {
      // As git reads a header: no blank inside the brackets but the one before a subsection.
      const m = /^\[([A-Za-z0-9.-]+)(\s+"(?:[^"\\]|\\.)*")?\]\s*(?:[#;].*)?$/.exec(line);
      if (!m) return { ...out, doubt: true, mentions: true };
      // A subsection (`[user "x"]`) holds user.x.*, never user.*: it counts as a section of its own.
      section = m[1]!.toLowerCase() + (m[2] ? '."' : '');
      if (/^(user|author|committer|i18n)(\.|$)/.test(section)) out.mentions = true;
      if (section === 'author' || section === 'committer' || section.startsWith('i18n') || (section.startsWith('user.') && section !== 'user')) out.doubt = true;
      continue;
    }
    if (section !== 'user') continue;
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(=\s*(.*))?$/.exec(line);
    if (!kv) return { ...out, doubt: true, mentions: true };
    const key = kv[1]!.toLowerCase();
    if (key !== 'name' && key !== 'email') continue;
    const value = kv[2] === undefined ? null : plainValue(kv[3]!);
    if (value === null) out.doubt = true;
    else out[key] = value;
  }
  return out;
}

/** An unquoted value as git reads it, where that is plain: words split by single spaces, a comment cut off; else null. */
function plainValue(v: string): string | null {
  const cut = v.search(/[#;]/);
  const s = (cut < 0 ? v : v.slice(0, cut)).trim();
  return /^[^\s"\\]+( [^\s"\\]+)*$/.test(s) ? s : null;
}

/** Git's crud: what it trims from both ends of a name or email (ident.c). */
const CRUD = /^[\x00-\x20.,:;<>"\\']|[\x00-\x20.,:;<>"\\']$/;

/** Whether git would take this name or email exactly as written. Pure. */
export function cleanIdent(s: string): boolean {
  return s !== '' && !CRUD.test(s) && !/[<>\n\x00-\x1f\x7f]/.test(s);
}

/**
 * The identity from the config files git reads (as configFiles lists them:
 * system candidates, ~/.gitconfig, the XDG files, the repository's config and
 * config.worktree), or null: ask git. `home`/`xdg`: the environment's.
 */
export function configIdent(files: readonly string[], commonConfig: string, worktreeConfig: string, env: NodeJS.ProcessEnv = process.env): Ident | null {
  // The files whose identity we may take, in the order git reads them; every other file must not name it.
  const xdgFile = env.XDG_CONFIG_HOME ? path.join(env.XDG_CONFIG_HOME, 'git', 'config') : env.HOME ? path.join(env.HOME, '.config', 'git', 'config') : null;
  const ordered = [xdgFile, env.HOME ? path.join(env.HOME, '.gitconfig') : null, commonConfig].filter((f): f is string => !!f);
  const seen = new Set<string>();
  let name: string | undefined;
  let email: string | undefined;
  for (const f of [...files.filter((f) => !ordered.includes(f)), ...ordered]) {
    if (seen.has(f)) continue;
    seen.add(f);
    const read = configText(f);
    if (read === 'missing') continue;
    if (read === 'unreadable') return null;
    const k = identKeys(read.text);
    if (k.doubt) return null;
    if (!ordered.includes(f) || f === worktreeConfig) {
      if (k.mentions) return null;
      continue;
    }
    name = k.name ?? name;
    email = k.email ?? email;
  }
  return name !== undefined && email !== undefined && cleanIdent(name) && cleanIdent(email) ? { name, email } : null;
}
