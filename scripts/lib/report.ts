// The report of an experiment: what it set out to do, what it established,
// what it tried in vain and why it ended. It covers the whole ledger (every
// segment), so it is the same wherever and whenever it is produced (its
// lists capped to the newest, its counts exact: report-source.ts); chain
// hashes its Markdown into the follow-up's decision record, which is why the
// Markdown holds nothing that changes without a ledger line (no timestamps) but
// its chain section, which chain renders with the new follow-up already in
// (report-chain.ts).
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Direction, Verdict } from './schema.ts';
import type { Termination } from './termination.ts';
import type { Experiment } from './experiment.ts';
import { currentTermination } from './experiment.ts';
import { reached } from './goal.ts';
import { confidenceOf, gainPct, HEALTH_HISTORY_CAP, loopState, type HealthChange, type LoopState } from './reduce.ts';
import { changePct, isChange, type DeadEnd, type Hypothesis, type KeptChange } from './report-lists.ts';
import { fastSource, REPORT_CAPS, wholeSource, type Caps, type ReportSource } from './report-source.ts';
import { clip, fmt, fmtApart, pct } from './summary.ts';
import { NO_PCT, ratio } from './format.ts';
import { bestArtifactsLine } from './artifacts.ts';
import { formatChange, formatSignedPct, signedDelta, SIGN_LEGEND } from './signs.ts';
import { bestGuardrailChecks } from './judge-run.ts';
import type { GuardrailCheck } from './guardrails.ts';
import { sanitize } from './sanitize.ts';
import { chainContext, chainSection, type ReportChain } from './report-chain.ts';
import { mdText } from './report-text.ts';
import { ownMetric, segmentMetrics } from './segment-metrics.ts';
import type { ChainFile } from './chain.ts';

export { changePct, deadEnds, hypotheses, keptChanges, type DeadEnd, type Hypothesis, type KeptChange } from './report-lists.ts';
export { REPORT_CAPS } from './report-source.ts';

export interface ReportData {
  experiment: string;
  goal: string;
  metric: string;
  direction: Direction;
  unit: string;
  segments: number;
  /** Commit (or snapshot id) the first segment started from. */
  start: string | null;
  best_commit: string | null;
  baseline: number | null;
  best: number | null;
  change_abs: number | null;
  change_pct: number | null;
  /** Improvement in percent in the metric's direction (positive = better). */
  gain_pct: number | null;
  confidence: { value: number | null; label: string | null };
  runs: { total: number; by_verdict: Record<Verdict, number>; rebaselines: number };
  kept: KeptChange[];
  dead_ends: DeadEnd[];
  health_history: HealthChange[];
  /**
   * How it ended. `loop` says what happened when no rule fired: `stopped` by
   * hand (control stop) or `paused` by its health (crashes, recovery
   * exhausted), with `reason` as the ledger has it; `active` when it continues.
   */
  termination: { terminated: boolean; by: string | null; message: string; loop: LoopState; reason: string | null };
  goal_met: { target: number | null; reached: boolean | null; gap: number | null; gap_pct: number | null };
  /** Where the best run's artifacts are kept (repo-relative), or null. */
  best_artifacts: { run_id: string; dir: string; files: string[] } | null;
  /** Every stated hypothesis with what the run showed and the evidence it rested on. */
  hypotheses: Hypothesis[];
  /** Every guardrail, the best's value against the segment's baseline. */
  guardrails: GuardrailCheck[];
  warnings: string[];
  /**
   * Exact counts: the lists above hold the newest (REPORT_CAPS; health: the
   * state's HEALTH_HISTORY_CAP). `changes` counts the keeps that are changes
   * (not a segment's baseline without files); `health_changes` is null when
   * the state predates its count and its list is full.
   */
  totals: { kept: number; changes: number; dead_ends: number; hypotheses: number; health_changes: number | null };
  /** A list above is shorter than its count. */
  truncated: boolean;
  /** Where every line is (repo-relative): the ledger. */
  full_history: string;
  /** Which experiment this one followed, why, and what comes next; null outside a chain. */
  chain: ReportChain | null;
}

/**
 * "score 100 → 72 (+28%)": how a change is stated in the report and in final
 * commit messages. With the direction the % is + = better (signs.ts); without
 * it, the raw change of the number.
 */
export function effectText(metric: string, unit: string, from: number | null, to: number | null, direction?: Direction): string {
  const u = unit ? ` ${unit}` : '';
  if (from === null) return `${metric} ${fmt(to)}${u} (baseline)`;
  const [a, b] = fmtApart(from, to);
  if (direction && to !== null) return `${metric} ${a} → ${b}${u} (${formatChange(direction, to, from)})`;
  return `${metric} ${a} → ${b}${u} (${pct(changePct(from, to))})`;
}

/** The termination whose recorded message a report shows (null: none). */
export function reportWant(exp: Experiment): { terminatedBy: string | null } {
  const t = currentTermination(exp);
  return { terminatedBy: t.terminate ? t.by : null };
}

/**
 * Builds the report; `caps` bounds its lists (the newest of each are kept, the
 * counts stay exact). `given`: its source, already gathered with these caps and reportWant().
 * `chains`: the chain file to read the context from (chain passes the one with its new link).
 */
export function buildReport(exp: Experiment, caps: Caps = REPORT_CAPS, given?: ReportSource, chains?: ChainFile): ReportData {
  const { config: c, state: s } = exp;
  const t = currentTermination(exp);
  const src = given ?? fastSource(exp, caps, reportWant(exp)) ?? wholeSource(exp, caps);
  // Prefer the message recorded when it terminated: the live one can carry a
  // clock reading that would make the report differ from call to call.
  const recorded = [...src.terminated].reverse().find((d) => d.by === t.by); // the latest: a resumed loop terminates again
  const message = t.terminate && recorded && typeof recorded.message === 'string' ? recorded.message : t.message;
  const conf = confidenceOf(s);
  // The state keeps the newest health changes (HEALTH_HISTORY_CAP) and, since it counts them, how many there were.
  const health = s.health_history;
  const healthTotal = s.health_changes ?? (health.length < HEALTH_HISTORY_CAP ? health.length : null);
  // A keep of an earlier segment on another metric is stated in its own.
  const metricOf = segmentMetrics(exp, src.kept.map((k) => k.segment));
  const current = { metric: c.metric, direction: c.direction, unit: c.unit };
  return {
    experiment: exp.paths.slug,
    goal: c.goal,
    metric: c.metric,
    direction: c.direction,
    unit: c.unit,
    segments: src.segments,
    start: src.start,
    best_commit: s.best_commit,
    baseline: s.baseline,
    best: s.best,
    change_abs: s.best !== null && s.baseline !== null ? s.best - s.baseline : null,
    change_pct: changePct(s.baseline, s.best),
    gain_pct: gainPct(s, c),
    confidence: { value: conf.value, label: conf.label },
    runs: src.runs,
    kept: src.kept.map((k) => ({ ...k, ...ownMetric(metricOf(k.segment), current) })),
    dead_ends: src.dead_ends,
    health_history: health,
    termination: { terminated: t.terminate, by: t.by, message, ...endedWithout(s, t) },
    // As termination judges it: the value the best was kept at, not a later re-measure of it.
    goal_met: goalMet(c.direction, c.target, s.best_kept === undefined ? s.best : s.best_kept),
    best_artifacts: bestArtifactsLine(exp),
    hypotheses: src.hypotheses,
    guardrails: bestGuardrailChecks(c, s),
    warnings: src.warnings,
    totals: { kept: src.kept_total, changes: src.changes_total, dead_ends: src.dead_ends_total, hypotheses: src.hypotheses_total, health_changes: healthTotal },
    truncated:
      src.kept.length < src.kept_total || src.dead_ends.length < src.dead_ends_total || src.hypotheses.length < src.hypotheses_total || healthTotal === null || health.length < healthTotal,
    full_history: rel(exp.root, exp.paths.ledger),
    // A loop stopped by hand has ended too: chain may follow it up.
    chain: chainContext(exp.root, exp.paths.slug, t.terminate || s.stopped, chains),
  };
}

/** What ended a loop no rule terminated: a stop by hand or a health pause, with the ledger's reason (no live figure: chain hashes the report). */
function endedWithout(s: Experiment['state'], t: Termination): { loop: LoopState; reason: string | null } {
  const loop = loopState(s, t);
  if (t.terminate) return { loop: 'terminated', reason: null };
  return { loop, reason: loop === 'active' ? null : s.health.reason };
}

/** The report's "Ended" line. */
function endedText(t: ReportData['termination']): string {
  if (t.terminated) return `terminated by ${t.by} ${t.message.replace(/^terminated: \S+ /, '')}`;
  if (t.loop === 'stopped') return `stopped by hand (${mdText(t.reason ?? 'stopped by the user', 200)}); no termination rule fired`;
  if (t.loop === 'paused') return `paused by its health (${mdText(t.reason ?? 'paused', 200)}); no termination rule fired`;
  return `not terminated (${t.message})`;
}

function goalMet(direction: Direction, target: number | null, best: number | null): ReportData['goal_met'] {
  if (target === null) return { target, reached: null, gap: null, gap_pct: null };
  if (best === null) return { target, reached: false, gap: null, gap_pct: null };
  if (reached(direction, best, target)) return { target, reached: true, gap: 0, gap_pct: 0 };
  const gap = Math.abs(best - target);
  return { target, reached: false, gap, gap_pct: best === 0 ? null : (gap / Math.abs(best)) * 100 };
}

function rel(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 12) : '-';
}

export function renderMarkdown(r: ReportData): string {
  const u = r.unit ? ` ${r.unit}` : '';
  const out: string[] = [`# autoloop report: ${r.experiment}`, ''];
  out.push(`- **Goal:** ${r.goal ? mdText(r.goal, 400) : '(none stated)'}`);
  out.push(`- **Metric:** ${r.metric} (${r.direction} is better${r.unit ? `, ${r.unit}` : ''})`);
  if (r.best === null || r.baseline === null) out.push('- **Result:** no baseline measured');
  else {
    const d = signedDelta(r.direction, r.best, r.baseline);
    const change = ` (Δ ${d > 0 ? '+' : d < 0 ? '-' : ''}${fmt(Math.abs(d))}${u}, ${r.gain_pct === null ? NO_PCT : formatSignedPct(r.gain_pct)})`;
    // The signed Δ says better or worse even where no % exists (a baseline of 0).
    const verdict = d > 0 ? ', better' : d < 0 ? ', worse' : ', unchanged';
    // Best and baseline are the last segment's (a new segment re-measures under new rules), while runs and kept changes span all.
    const seg = r.segments > 1 ? ` (segment ${r.segments} of ${r.segments}, against its own baseline)` : '';
    const [baseline, best] = fmtApart(r.baseline, r.best);
    out.push(`- **Result:** baseline ${baseline}${u} → best ${best}${u}${change}${verdict}${seg}`);
    out.push(`- **Signs:** ${SIGN_LEGEND}`);
  }
  out.push(`- **Confidence:** ${r.confidence.value === null ? 'n/a (too few runs or no spread)' : `${ratio(r.confidence.value)}x (${r.confidence.label})`}`);
  const g = r.goal_met;
  if (g.target === null) out.push('- **Goal met:** no numeric target was set');
  else if (g.reached) out.push(`- **Goal met:** yes (target ${fmtApart(g.target, r.best).join(`${u}, best `)}${u})`);
  else if (g.gap === null) out.push(`- **Goal met:** no (target ${fmt(g.target)}${u}; nothing measured)`);
  else out.push(`- **Goal met:** no: ${fmt(g.gap)}${u} short of the target ${fmt(g.target)}${u}${g.gap_pct === null ? '' : ` (a further ${g.gap_pct.toFixed(1)}% of the best)`}`);
  out.push(`- **Ended:** ${endedText(r.termination)}`);
  const v = r.runs.by_verdict;
  const parts = (Object.keys(v) as Verdict[]).filter((k) => v[k] > 0).map((k) => `${v[k]} ${k}`);
  out.push(`- **Runs:** ${r.runs.total}${parts.length ? ` (${parts.join(', ')})` : ''}${r.runs.rebaselines ? `; ${r.runs.rebaselines} rebaseline` : ''}`);
  // Nothing measured: there is no best, only the start (the state's best commit is the start until a baseline).
  out.push(`- **Commits:** start ${short(r.start)}, best ${r.best === null ? 'none measured' : short(r.best_commit)}${r.segments > 1 ? `; ${r.segments} segments` : ''}`);
  if (r.best_artifacts) out.push(`- **Best artifacts:** \`${r.best_artifacts.dir}/\` (${r.best_artifacts.run_id}: ${clip(r.best_artifacts.files.join(', '), 200)})`);

  // A segment's baseline is the reference, not a change, unless it committed files of its own or took commits made outside the loop (finalize replays both).
  const changes = r.kept.filter(isChange);
  const earlier = r.totals.changes - changes.length;
  out.push('', `## Kept changes (${r.totals.changes})`, '');
  if (!r.totals.changes) out.push(r.baseline === null ? 'None: no baseline was measured.' : 'None: no change beat the baseline.');
  changes.forEach((k, i) => {
    out.push(`${earlier + i + 1}. ${k.run_id} \`${short(k.commit)}\` ${effectText(k.metric ?? r.metric, k.unit ?? r.unit, k.from, k.to, k.direction ?? r.direction)}: ${mdText(k.description, 120)}${k.adopted ? ' (commits made outside the loop, taken by init-experiment)' : ''}`);
  });
  more(out, earlier, r.full_history);

  if (r.guardrails.length) {
    out.push('', `## Guardrails (${r.guardrails.length}, against the baseline)`, '');
    for (const g of r.guardrails) out.push(`- ${g.metric}: ${g.status}: ${g.reason}`);
  }

  out.push('', `## Dead ends (${r.totals.dead_ends})`, '');
  if (!r.totals.dead_ends) out.push('None.');
  for (const d of r.dead_ends) out.push(`- ${d.run_id} ${d.verdict}: ${mdText(d.description, 100)} (${mdText(d.reason, 100)})`);
  more(out, r.totals.dead_ends - r.dead_ends.length, r.full_history);

  if (r.totals.hypotheses) {
    out.push('', `## Hypotheses and outcomes (${r.totals.hypotheses})`, '');
    for (const h of r.hypotheses) {
      const ev = h.evidence.length ? `; evidence: ${h.evidence.map((e) => `\`${e.file}\`${e.what ? ` (${mdText(e.what, 80)})` : ''}`).join(', ')}` : '';
      out.push(`- ${h.run_id} ${h.verdict}: ${mdText(h.hypothesis || '(none stated)', 160)} → ${mdText(h.reason, 100)}${ev}`);
    }
    more(out, r.totals.hypotheses - r.hypotheses.length, r.full_history);
  }

  out.push('', '## Health', '');
  if (!r.health_history.length) out.push('No change: the loop stayed healthy.');
  for (const h of r.health_history) {
    out.push(`- ${h.run_id ?? 'user'}: ${h.health}${h.playbook ? ` (playbook ${h.playbook})` : ''}: ${mdText(h.reason, 120)}`);
  }
  const hc = r.totals.health_changes;
  if (hc === null) out.push(`- … and possibly earlier changes (the newest ${r.health_history.length} are listed; full history: ${r.full_history}, or the dashboard)`);
  else more(out, hc - r.health_history.length, r.full_history);
  out.push(...chainSection(r.chain, r.experiment));
  if (r.warnings.length) out.push('', `Ledger warnings: ${r.warnings.length} (${mdText(r.warnings[0] ?? '', 120)})`);
  // Goals and descriptions come from people and models: no escape sequence reaches the page or a terminal.
  return sanitize(out.join('\n')) + '\n';
}

/** The line that closes a capped list: how many more, and where they all are. */
function more(out: string[], n: number, ledger: string): void {
  if (n > 0) out.push(`… and ${n} more (full history: ${ledger}, or the dashboard)`);
}

export function reportHash(markdown: string): string {
  return createHash('sha256').update(markdown).digest('hex');
}
