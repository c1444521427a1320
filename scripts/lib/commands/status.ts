// The status command's reads: every experiment in the repository at a glance
// (--list), and how the tree compares with an experiment's best. Nothing here
// needs the experiment's branch checked out: state comes from its ledger.
import { currentTermination, listExperiments, openExperiment, readActive, type Experiment } from '../experiment.ts';
import { openWorkspace } from '../workspace.ts';
import { workspaceFile } from '../workspace-base.ts';
import { readJsonOrNull } from '../fsx.ts';
import { currentBranch } from '../gitcmd.ts';
import { loopState } from '../reduce.ts';
import { fmt } from '../summary.ts';

export interface ExperimentRow {
  experiment: string;
  active: boolean;
  loop: string;
  metric: string;
  direction: string;
  best: number | null;
  runs: number;
  /** autoloop/<slug> in git mode, null in snapshot mode. */
  branch: string | null;
}

/** The branch an experiment lives on, from its workspace record (null: snapshot mode or never started). */
export function experimentBranch(exp: Experiment): string | null {
  const raw = readJsonOrNull(workspaceFile(exp.paths)) as { mode?: unknown; branch?: unknown } | null;
  return raw?.mode === 'git' && typeof raw.branch === 'string' ? raw.branch : null;
}

export function experimentRows(root: string): ExperimentRow[] {
  const active = readActive(root)?.experiment ?? null;
  return listExperiments(root).map((slug) => {
    const exp = openExperiment(root, slug);
    const s = exp.state;
    return {
      experiment: slug,
      active: slug === active,
      loop: loopState(s, currentTermination(exp)),
      metric: exp.config.metric,
      direction: exp.config.direction,
      best: s.best,
      runs: s.runs_total,
      branch: experimentBranch(exp),
    };
  });
}

export function rowsText(rows: readonly ExperimentRow[]): string {
  if (!rows.length) return 'no experiment in this repository: run init-experiment';
  return rows
    .map((r) => `${r.active ? '*' : ' '} ${r.experiment}: ${r.loop}, ${r.metric} best ${fmt(r.best)} (${r.direction} is better), ${r.runs} run${r.runs === 1 ? '' : 's'}, ${r.branch ?? 'snapshot mode'}`)
    .join('\n');
}

/**
 * In-scope files that differ from the experiment's best, or null when the
 * tree is not this experiment's (its branch is not checked out).
 */
export async function treeVsBest(exp: Experiment): Promise<string[] | null> {
  const branch = experimentBranch(exp);
  if (branch !== null && (await currentBranch(exp.root)) !== branch) return null;
  const ws = await openWorkspace(exp.root, exp.paths, exp.config);
  return ws.changedInScope();
}
