// The best's tree (best-tree.ts) around a serial run's candidate commands:
// the best is measured in it beside the candidate, and it is reused while the
// best does not move, so no command of the candidate may change it. Where the
// tree is not read-only to the command (the `group` and `pidns` containments)
// that is found by a walk for ctimes at or after a mark (outside-touch.ts),
// one lstat per file.
//
// The walk is made once per row of candidate commands, not after each: the
// mark is taken before the first command of the row, and the tree walked
// before the next command that runs in it (a sample of the best) and when the
// run ends. No command of the best runs in between, so a ctime at or after the
// mark is a write of one of the row's commands (the engine writes nothing
// there meanwhile), and nothing a later command does can set a ctime back:
// the same writes are found as with a walk per command, before any sample of
// the best could read them. The candidate's samples come in pairs (sampling.ts,
// B C C B), and gates and checks join the row beside them: about half the
// walks. A walk that lasts only as long as what changed was not taken:
// inotify misses a write through a hard link made outside the tree and a
// write through a shared mapping, which a ctime shows.
import fs from 'node:fs';
import { bestGitFiles, bestGitFilesChanged, bestTreeDir, forgetBestTree } from './best-tree.ts';
import type { Experiment } from './experiment-data.ts';
import { countIo } from './iocount.ts';
import { phaseMark, touchedUnder } from './outside-touch.ts';

interface Pending {
  dir: string;
  mark: bigint;
  /** The tree's own git dir, by stat signature (under .git: writable under every containment). */
  git: Map<string, string> | null;
  /** Every command of the row ran under the `readonly` containment: the tree was read-only to it. */
  readonly: boolean;
}

export class BestTreeWatch {
  private pending: Pending | null = null;

  constructor(
    private readonly exp: Experiment,
    /** Where the mark's file is made (the run's folder, on the repository's filesystem). */
    private readonly markDir: string,
  ) {}

  /**
   * Before a command in `cwd`: one in the best's tree has the row before it checked first (why the
   * run is void, or null); one of the candidate opens a row, if none is open.
   */
  beforeCommand(cwd: string): string | null {
    const dir = bestTreeDir(this.exp);
    if (dir === null) return this.settle();
    if (cwd === dir) return this.settle();
    if (!this.pending && fs.existsSync(dir)) this.pending = { dir, mark: phaseMark(this.markDir), git: bestGitFiles(dir), readonly: true };
    return null;
  }

  /** After a command of the candidate: under which containment it ran. */
  afterCommand(containment: string | undefined): void {
    if (this.pending && containment !== 'readonly') this.pending.readonly = false;
  }

  /**
   * The open row's check: what its commands wrote into the best's tree (then forgotten, so that the
   * next use builds it again), as why the run is void; null when nothing.
   */
  settle(): string | null {
    const p = this.pending;
    this.pending = null;
    if (!p) return null;
    if (!p.readonly) countIo('best_walk');
    const hit = [...(p.readonly ? [] : touchedUnder(p.dir, p.mark)), ...(p.git ? bestGitFilesChanged(this.exp.root, p.git) : [])];
    if (!hit.length) return null;
    forgetBestTree(this.exp);
    return `the code under test wrote into the best's tree (${hit.slice(0, 3).join(', ')}), which the best is measured in: the comparison is void (the tree is built again)`;
  }
}
