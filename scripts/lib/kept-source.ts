// What finalize replays: every keep of an experiment, with its commit, and
// the commit its first segment started from. Gathered as the report gathers
// its lists (report-source.ts): through the run index, parsing only the keep
// lines, or, when the index cannot answer or disagrees with the state, from
// every ledger line. Both ways give the same result.
import type { Experiment } from './experiment-data.ts';
import { readLedger } from './ledger.ts';
import { keptChanges, type KeptChange } from './report-lists.ts';
import { fastSource } from './report-source.ts';

export interface KeptSource {
  /** The base of the first segment (null when none is recorded). */
  start: string | null;
  /** Every keep, in ledger order (segment baselines marked). */
  kept: KeptChange[];
}

/** Every line parsed (the reference the fast way must agree with). */
export function keptWhole(exp: Experiment): KeptSource {
  const lines = readLedger(exp.paths.ledger).lines;
  const first = lines.find((l) => l.type === 'config');
  return { start: first?.type === 'config' ? first.base : null, kept: keptChanges(lines) };
}

/** Through the run index, only the keep lines parsed; null when the index cannot answer. */
export function keptFast(exp: Experiment): KeptSource | null {
  // Uncapped: the list holds every keep (a run count bounds them); no dead end or hypothesis is read.
  const src = fastSource(exp, { kept: Math.max(1, exp.state.runs_total), dead_ends: 0, hypotheses: 0 }, { terminatedBy: null });
  if (!src || src.kept.length !== src.kept_total) return null;
  return { start: src.start, kept: src.kept };
}

export function keptSource(exp: Experiment): KeptSource {
  return keptFast(exp) ?? keptWhole(exp);
}
