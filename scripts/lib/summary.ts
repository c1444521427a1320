// Short text for the model: every byte here is read on every iteration, so
// these formats are compact and stable.
import path from 'node:path';
import type { Experiment } from './experiment-data.ts';
import { confidenceOf, gainPct, loopState, type Termination } from './reduce.ts';
import { cut, fmt, fmtApart, gainText, pct, ratio } from './format.ts';

export { fmt, fmtApart, gainText, pct };

export function confidenceText(exp: Experiment): string {
  const c = confidenceOf(exp.state);
  return c.value === null ? 'n/a' : `${ratio(c.value)}x ${c.label}`;
}

export function bestLine(exp: Experiment): string {
  const { config: c, state: s } = exp;
  const unit = c.unit ? ` ${c.unit}` : '';
  if (s.best === null) return `${c.metric} (${c.direction} is better): no baseline yet`;
  const [best, baseline] = fmtApart(s.best, s.baseline);
  return `${c.metric} (${c.direction} is better): best ${best}${unit} vs baseline ${baseline}${unit} (${gainText(gainPct(s, c), s.baseline)}, confidence ${confidenceText(exp)})`;
}

export function countsLine(exp: Experiment): string {
  const n = exp.state.counts;
  const parts = [`${n.keep} keep`, `${n.discard} discard`];
  if (n.crash) parts.push(`${n.crash} crash`);
  if (n.timeout) parts.push(`${n.timeout} timeout`);
  if (n.checks_failed) parts.push(`${n.checks_failed} checks_failed`);
  if (n.invalid) parts.push(`${n.invalid} invalid`);
  return `runs: ${exp.state.seg_runs} this segment (${parts.join(', ')}), ${exp.state.runs_total} in all`;
}

export function progressLine(t: Termination): string {
  const p = t.progress;
  const parts = [`runs ${p.runs}`];
  if (p.plateau) parts.push(`plateau ${p.plateau}`);
  if (p.target) parts.push(`target ${p.target}`);
  if (p.wall_clock) parts.push(`time ${p.wall_clock}`);
  return `budget: ${parts.join(', ')}${t.terminate ? ` — TERMINATED (${t.by})` : ''}`;
}

export function healthLine(exp: Experiment): string {
  const h = exp.state.health;
  return `health: ${h.health}: ${h.reason}${h.playbook ? ` (playbook ${h.playbook})` : ''}`;
}

export function recentLines(exp: Experiment, n: number): string[] {
  // slice(-0) is the whole list: --last 0 means none.
  return (n > 0 ? exp.state.recent.slice(-n) : []).map((r) => {
    const d = r.delta === null ? '' : ` Δ${r.delta >= 0 ? '+' : ''}${fmt(r.delta)}`;
    return `  ${r.run_id} ${r.verdict} ${fmt(r.primary)}${d} ${clip(r.description, 60)}`;
  });
}

export function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return cut(one, n);
}

/** Why there is no segment to describe (a ledger without its config line), or null. */
export function segmentMissing(exp: Pick<Experiment, 'root' | 'paths' | 'state'>): string | null {
  if (exp.state.segment > 0) return null;
  const ledger = path.relative(exp.root, exp.paths.ledger);
  return `${ledger} holds no config line (it is empty or its first line is damaged): restore it, or run init-experiment to open a new segment`;
}

/** The compact state injected at SessionStart (hooks add the rules); ≤ 1,500 chars. */
export function activeSummary(exp: Experiment, t: Termination): string {
  const missing = segmentMissing(exp);
  if (missing) return `autoloop experiment "${exp.paths.slug}": ${missing}`;
  const { config: c } = exp;
  const lines = [
    `autoloop experiment "${exp.paths.slug}" (segment ${exp.state.segment}, loop ${loopState(exp.state, t)})`,
    c.goal ? `goal: ${clip(c.goal, 200)}` : '',
    bestLine(exp),
    countsLine(exp),
    healthLine(exp),
    progressLine(t),
    `scope: ${clip(c.scope.join(' '), 160)}`,
    'last runs:',
    ...recentLines(exp, 5),
    `notes: ${exp.paths.notes.slice(exp.root.length + 1)} and ideas.md beside it`,
  ].filter(Boolean);
  const text = lines.join('\n');
  return cut(text, 1500);
}
