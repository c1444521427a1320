// What finalize replays: every keep of an experiment, with its commit, and
// the commit its first segment started from. Gathered as the report gathers
// its lists (report-source.ts), in the same reading: through the run index,
// parsing only the lines listed, or, when the index cannot answer or
// disagrees with the state, from every ledger line. Both ways give the same result.
import type { Experiment } from './experiment.ts';
import type { KeptChange } from './report-lists.ts';
import { fastSource, REPORT_CAPS, wholeSource, type Caps, type ReportSource } from './report-source.ts';
import { reportWant } from './report.ts';

export interface KeptSource {
  /** The base of the first segment (null when none is recorded). */
  start: string | null;
  /** Every keep, in ledger order (segment baselines marked). */
  kept: KeptChange[];
}

/** The caps with every keep listed (the run count bounds them). */
const uncapped = (exp: Experiment, caps: Caps): Caps => ({ ...caps, kept: Math.max(1, exp.state.runs_total) });
const kept = (src: ReportSource): KeptSource => ({ start: src.start, kept: src.kept });
/** The report's own source out of an uncapped one: its newest keeps. */
const capped = (src: ReportSource, caps: Caps): ReportSource => ({ ...src, kept: src.kept.length > caps.kept ? src.kept.slice(src.kept.length - caps.kept) : src.kept });

/** Every line parsed (the reference the fast way must agree with). */
export function keptWhole(exp: Experiment): KeptSource {
  return kept(wholeSource(exp, uncapped(exp, { kept: 1, dead_ends: 0, hypotheses: 0 })));
}

/** Through the run index, only the keep lines parsed; null when the index cannot answer. */
export function keptFast(exp: Experiment): KeptSource | null {
  const src = fastSource(exp, uncapped(exp, { kept: 1, dead_ends: 0, hypotheses: 0 }), { terminatedBy: null });
  return src && src.kept.length === src.kept_total ? kept(src) : null;
}

export function keptSource(exp: Experiment): KeptSource {
  return keptFast(exp) ?? keptWhole(exp);
}

/** The keeps and, from the same reading, the report's source (buildReport's `given`). */
export function keptWithReport(exp: Experiment, caps: Caps = REPORT_CAPS): { kept: KeptSource; report: ReportSource } {
  const all = uncapped(exp, caps);
  const fast = fastSource(exp, all, reportWant(exp));
  const src = fast && fast.kept.length === fast.kept_total ? fast : wholeSource(exp, all);
  return { kept: kept(src), report: capped(src, caps) };
}
