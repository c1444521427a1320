// One run's side of loose-blame.ts: the windows in which its commands could
// write git's store (in memory, and on disk for the finders beside it), the
// findings its own checks make (with their suspects, recorded before the
// objects are set aside), and the findings of other runs that name it.
import path from 'node:path';
import type { Experiment } from './experiment-data.ts';
import { runDir } from './paths.ts';
import { openCandidates } from './candidates/store.ts';
import { blames, findingsSince, readWindows, recordFindings, saveWindows, suspectsOf, SLACK_MS, type Finding, type RunWindows, type Window } from './loose-blame.ts';
import type { ForgedLoose } from './loose-forged.ts';

export class LooseWindows {
  private readonly windows: Window[] = [];
  /** A command ran under `group`: a process of it may outlive it, so its window never closes. */
  private escapable = false;
  /** This run's own findings, by object id. */
  private readonly own = new Map<string, Finding>();

  constructor(
    private readonly exp: Experiment,
    private readonly run: string,
    /** A candidate's run: the runs beside it read its windows (a serial run has none beside it: not written). */
    private readonly shared: boolean,
  ) {}

  private save(): void {
    if (this.shared) saveWindows(this.folder, this.windows);
  }

  private get folder(): string {
    return runDir(this.exp.paths, this.run).dir;
  }

  commandStarts(): void {
    if (this.windows.at(-1)?.end === null) return; // still open (`group`), or sealed twice for one command
    this.windows.push({ start: Date.now(), end: null });
    this.save();
  }

  commandEnds(containment: string | undefined): void {
    if (containment === 'group') this.escapable = true;
    const last = this.windows.at(-1);
    if (!last || last.end !== null || this.escapable) return;
    last.end = Date.now();
    this.save();
  }

  /** The other runs in flight beside this one (parallel mode's candidates), with their windows as recorded. */
  private others(): RunWindows[] {
    const out: RunWindows[] = [];
    for (const c of openCandidates(this.exp.paths)) {
      if (c.run_id && c.run_id !== this.run) out.push({ run: c.run_id, windows: readWindows(runDir(this.exp.paths, c.run_id).dir) });
    }
    return out;
  }

  /** Forged loose objects this run's check found: recorded with their suspects, before they are set aside. Returns them. */
  found(forged: readonly ForgedLoose[]): ForgedLoose[] {
    const runs = [{ run: this.run, windows: this.windows }, ...this.others()];
    const findings = forged.map((f) => {
      const s = suspectsOf(f.ctime, runs);
      // Nobody's window: whoever could have, and the finder (a forged result is never kept).
      const suspects = s.unattributed ? [...new Set([...s.suspects, this.run])] : s.suspects;
      const finding: Finding = { id: f.id, ctime: f.ctime, found_by: this.run, suspects, unattributed: s.unattributed };
      this.own.set(f.id, finding);
      return finding;
    });
    recordFindings(this.exp.root, findings);
    return [...forged];
  }

  /** Whether this run's own finding of `id` is this run's doing. */
  mine(id: string): boolean {
    const f = this.own.get(id);
    return f !== undefined && blames(f, this.run, this.windows);
  }

  /** Other runs' findings, made since this run's first command, that name it or whose ctime its windows hold. */
  blamed(): (Finding & { path: string })[] {
    const first = this.windows[0];
    if (!first) return [];
    return findingsSince(this.exp.root, first.start - SLACK_MS)
      .filter((f) => f.found_by !== this.run && blames(f, this.run, this.windows))
      .map((f) => ({ ...f, path: path.join('.git', 'objects', f.id.slice(0, 2), f.id.slice(2)) }));
  }
}

/**
 * A run measured ok that a finding made since it started names (a finder whose check came after this
 * run's phases ended): invalid at its log, never kept on a measurement its own command may have forged.
 */
export function lateLooseBlame<R extends { run_id: string; status: string | null; started_at: string; reason?: string | null }>(root: string, rec: R): R {
  if (rec.status !== 'ok') return rec;
  const since = Date.parse(rec.started_at);
  const f = findingsSince(root, Number.isFinite(since) ? since : 0).find((x) => x.suspects.includes(rec.run_id));
  if (!f) return rec;
  const who = f.suspects.length > 1 ? `it cannot be told which of ${f.suspects.join(', ')}` : `found by ${f.found_by}`;
  return { ...rec, status: 'invalid', reason: `git's store held a loose object rewritten while a command of this run ran (${f.id}, ${who}), found after the run was measured` };
}
