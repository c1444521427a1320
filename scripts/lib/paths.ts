// Where autoloop keeps its state inside the user's repository. Everything
// lives under .autoloop/, which the engine never commits and never cleans.
import path from 'node:path';

export const STATE_DIR = '.autoloop';

export interface RepoPaths {
  root: string;
  dir: string; // <root>/.autoloop
  active: string; // active.json, read by the hooks
  session: string; // the hooks' own file: owning session, Stop-hook counters
  chain: string; // chain budget and trail (chains)
  experiments: string;
  lock: string; // one engine mutation at a time in this repository
}

export function repoPaths(root: string): RepoPaths {
  const dir = path.join(root, STATE_DIR);
  return {
    root,
    dir,
    active: path.join(dir, 'active.json'),
    session: path.join(dir, 'session.json'),
    chain: path.join(dir, 'chain.json'),
    experiments: path.join(dir, 'experiments'),
    lock: path.join(dir, 'lock'),
  };
}

export interface ExperimentPaths {
  slug: string;
  dir: string;
  config: string; // config.yaml
  ledger: string; // ledger.jsonl (append-only)
  state: string; // state.json (derived, rebuildable)
  notes: string; // program.md (living notes, frontmatter)
  ideas: string; // ideas.md (backlog)
  runs: string; // runs/<run_id>/{output.log,result.json}
  lock: string; // the repository's lock (.autoloop/lock), shared by every experiment
  unclean: string; // present while processes of a run survive
  judges: string; // copies of the protected files as fingerprinted
  snapshot: string; // snapshot mode: the best's in-scope files
  decision: string; // chain decision (read-only once written)
  scratch: string; // the model's diagnostics: scratch/<run_id>/ (plan, scripts, outputs)
}

export function experimentPaths(root: string, slug: string): ExperimentPaths {
  const dir = path.join(repoPaths(root).experiments, slug);
  return {
    slug,
    dir,
    config: path.join(dir, 'config.yaml'),
    ledger: path.join(dir, 'ledger.jsonl'),
    state: path.join(dir, 'state.json'),
    notes: path.join(dir, 'program.md'),
    ideas: path.join(dir, 'ideas.md'),
    runs: path.join(dir, 'runs'),
    lock: repoPaths(root).lock,
    unclean: path.join(dir, 'unclean.json'),
    judges: path.join(dir, 'judges'),
    snapshot: path.join(dir, 'snapshot'),
    decision: path.join(dir, 'chain-decision.json'),
    scratch: path.join(dir, 'scratch'),
  };
}

export function runDir(exp: ExperimentPaths, runId: string): { dir: string; log: string; result: string } {
  const dir = path.join(exp.runs, runId);
  return { dir, log: path.join(dir, 'output.log'), result: path.join(dir, 'result.json') };
}

/** Where a run's artifacts are kept. */
export function artifactsDir(exp: ExperimentPaths, runId: string): string {
  return path.join(exp.runs, runId, 'artifacts');
}

export function runId(n: number): string {
  return `r${String(n).padStart(4, '0')}`;
}

/** Repo-relative POSIX path, as stored in config and ledger. */
export function rel(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}
