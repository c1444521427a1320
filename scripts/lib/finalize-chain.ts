// finalize's fast replay. The engine commits each keep on the experiment's
// branch, so the kept commits usually form a chain from the experiment's
// start: each one's parent is the keep before it. Cherry-picking such a chain
// in order onto its start makes exactly their own trees, so the replay can
// reuse each keep's tree: one `git log` reads every keep's parent, tree and
// author, one `git fast-import` writes every commit (or, where it cannot, one
// commit-tree each), instead of a cherry-pick, two tree reads, an author
// read, the commit and a ref update per keep in a temporary worktree (six
// processes a keep, plus the worktree's checkout). When the commits do not chain (a keep on another parent, a merge,
// a hand-made commit), finalize cherry-picks as before.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gitTry, gitWithInput } from './gitcmd.ts';

export interface Chained {
  /** The start's tree. */
  baseTree: string;
  /** Each commit's tree and author (as git's environment), in order. */
  picks: { tree: string; author: Record<string, string> }[];
}

/**
 * The trees and authors of `commits` when each one's only parent is the one
 * before it (`base` for the first); null otherwise. A commit that `spans`
 * (a segment's baseline that took commits made by hand) may instead descend
 * from the one before it through those commits: its tree is then theirs too.
 */
export async function chainFrom(root: string, base: string, kept: readonly { sha: string; spans: boolean }[]): Promise<Chained | null> {
  const commits = kept.map((p) => p.sha);
  // One process for all: the start and the commits, in the order given.
  const r = await gitWithInput(root, ['log', '--no-walk=unsorted', '--stdin', '--format=%H%x00%P%x00%T%x00%an%x00%ae%x00%ad', '--date=raw'], [base, ...commits].join('\n') + '\n');
  if (r.code !== 0) return null;
  const rows = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\0'));
  if (rows.length !== commits.length + 1) return null;
  const [start, ...rest] = rows as string[][];
  if (start?.[0] !== base || !start[2]) return null;
  const picks: Chained['picks'] = [];
  let prev = base;
  for (const [k, row] of rest.entries()) {
    const [sha, parents, tree, name, email, date] = row;
    if (sha === undefined || sha !== commits[k] || !tree) return null;
    if (parents !== prev && !(kept[k]?.spans && (await gitTry(root, ['merge-base', '--is-ancestor', prev, sha])).code === 0)) return null;
    picks.push({ tree, author: name && email && date ? { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_AUTHOR_DATE: date } : {} });
    prev = sha;
  }
  return { baseTree: start[2], picks };
}

/** An identity git writes as it is: no angle brackets or line breaks in the name or email, a raw date. */
function identLine(name: string | undefined, email: string | undefined, date: string | undefined): string | null {
  const plain = (s: string | undefined) => s !== undefined && s !== '' && !/[<>\n\0]/.test(s);
  return plain(name) && plain(email) && date !== undefined && /^\d+ [+-]\d{4}$/.test(date) ? `${name} <${email}> ${date}` : null;
}

/**
 * The commits (each a tree with its author and message, the first on `base`,
 * each on the one before) written by one `git fast-import`, which writes no
 * ref (its stream ends by resetting the ref it used): their ids, in order.
 * Null when it cannot (an identity it would not write as git does, or
 * fast-import failed): the caller then writes one commit-tree each.
 */
export async function importCommits(root: string, base: string, commits: readonly { tree: string; author: Record<string, string>; msg: string }[], ident: Record<string, string>): Promise<string[] | null> {
  if (!commits.length) return [];
  const me = await gitWithInput(root, ['var', 'GIT_COMMITTER_IDENT'], '', ident);
  const m = /^(.*) <(.*)> (\d+ [+-]\d{4})$/.exec(me.stdout.trim());
  const committer = m ? identLine(m[1], m[2], m[3]) : null;
  if (me.code !== 0 || !committer) return null;
  const ref = `refs/autoloop/finalize-import-${process.pid}`;
  const parts = ['feature done\n'];
  for (const [j, c] of commits.entries()) {
    const author = identLine(c.author.GIT_AUTHOR_NAME, c.author.GIT_AUTHOR_EMAIL, c.author.GIT_AUTHOR_DATE);
    if (!author) return null;
    parts.push(`commit ${ref}\nmark :${j + 1}\nauthor ${author}\ncommitter ${committer}\ndata ${Buffer.byteLength(c.msg)}\n${c.msg}\n${j === 0 ? `from ${base}\n` : ''}M 040000 ${c.tree} ""\n\n`);
  }
  parts.push(`reset ${ref}\n\ndone\n`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-import-'));
  try {
    const marks = path.join(dir, 'marks');
    const r = await gitWithInput(root, ['fast-import', '--quiet', `--export-marks=${marks}`], parts.join(''), ident);
    if (r.code !== 0) return null;
    const ids = new Map(fs.readFileSync(marks, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
    const out = commits.map((_, j) => ids.get(`:${j + 1}`) ?? '');
    return out.every((s) => /^[0-9a-f]{40,64}$/.test(s)) ? out : null;
  } catch {
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
