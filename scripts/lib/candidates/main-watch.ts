// A candidate's command runs in its own worktree, but nothing stops it from
// writing the main tree's files (a relative path out of the worktree): those
// are what the next keep lands on and what the user works in. The in-scope
// files of the main tree that differ from its HEAD are noted before each
// phase of a candidate's run (their bytes: they may be the user's edits) and
// compared after it, under the ledger lock (a keep of another candidate,
// which brings clean files to the new best, is then whole or not begun). A
// file clean before and changed after, or changed before and different now,
// was written meanwhile: the run is void, the file as written is moved to
// rescued/, and the main tree is put back as it was.
import fs from 'node:fs';
import path from 'node:path';
import { gitTry, headRef, statusEntries } from '../gitcmd.ts';
import { resolveProtected } from '../integrity.ts';
import { benchmarkOutputs } from '../outputs.ts';
import { compileScope, type Scope } from '../scope.ts';
import { rescueFile } from '../workspace-base.ts';
import type { Config } from '../schema.ts';

type Held = { link: string } | { bytes: Buffer; mode: number } | null;

const LITERAL = { GIT_LITERAL_PATHSPECS: '1' };

function hold(file: string): Held {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return null;
  if (st.isSymbolicLink()) return { link: fs.readlinkSync(file) };
  return st.isFile() ? { bytes: fs.readFileSync(file), mode: st.mode & 0o7777 } : null;
}

function same(a: Held, b: Held): boolean {
  if (a === null || b === null) return a === b;
  if ('link' in a || 'link' in b) return 'link' in a && 'link' in b && a.link === b.link;
  return a.mode === b.mode && a.bytes.equals(b.bytes);
}

export class MainTreeWatch {
  private scope: Scope | null = null;
  /** The main tree's in-scope files that differed from its HEAD, as they were; null when it is not on the branch. */
  private before: Map<string, Held> | null = null;

  constructor(private readonly root: string, private readonly branch: string, private readonly config: Config) {}

  /** In-scope paths of the main tree that differ from its HEAD (null: the main tree is not on the branch, left alone). */
  private async changed(): Promise<string[] | null> {
    if ((await headRef(this.root)) !== `refs/heads/${this.branch}`) return null;
    this.scope ??= compileScope(this.config.scope, [...this.config.protect, ...resolveProtected(this.root, this.config), ...benchmarkOutputs(this.config)]);
    const entries = await statusEntries(this.root, 'all', LITERAL);
    const scope = this.scope;
    return entries && entries.map((e) => e.path).filter((p) => scope.inScope(p));
  }

  /** Before a phase. */
  async mark(): Promise<void> {
    const files = await this.changed();
    this.before = files && new Map(files.map((f) => [f, hold(path.join(this.root, f))]));
  }

  /**
   * After the phase (under the ledger lock): the files written meanwhile, each
   * moved to `rescue` and put back as it was (from HEAD when it was clean).
   */
  async restore(rescue: string): Promise<string[]> {
    const before = this.before;
    this.before = null;
    const now = before ? await this.changed() : null;
    if (!before || !now) return [];
    const written = [
      ...now.filter((f) => !before.has(f)),
      ...[...before].filter(([f, held]) => !same(held, hold(path.join(this.root, f)))).map(([f]) => f),
    ];
    const files = [...new Set(written)].sort();
    for (const f of files) {
      const abs = path.join(this.root, f);
      rescueFile(this.root, f, rescue);
      const held = before.get(f);
      if (held === undefined) {
        // Clean before: as HEAD has it (absent there: it was created, and is gone now).
        await gitTry(this.root, ['checkout', '-q', 'HEAD', '--', f], LITERAL);
      } else if (held !== null) {
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        if ('link' in held) fs.symlinkSync(held.link, abs);
        else fs.writeFileSync(abs, held.bytes, { mode: held.mode });
        if (!('link' in held)) fs.chmodSync(abs, held.mode);
      }
    }
    return files;
  }
}
