// The report of an experiment: what it set out to do, what it established,
// what it tried in vain and why it ended. Built from the whole ledger (every
// segment), so it is the same wherever and whenever it is produced; chain
// hashes its Markdown into the follow-up's decision record, which is why the
// Markdown holds nothing that changes without a ledger line (no timestamps, no
// chain events).
import { createHash } from 'node:crypto';
import type { Direction, LedgerLine, Verdict } from './schema.ts';
import type { Experiment } from './experiment.ts';
import { currentTermination } from './experiment.ts';
import { readLedger } from './ledger.ts';
import { reached } from './goal.ts';
import { confidenceOf, emptyState, foldLines, gainPct, type HealthChange } from './reduce.ts';
import { clip, fmt, pct } from './summary.ts';
import { bestArtifactsLine } from './artifacts.ts';
import { formatChange, formatSignedPct, signedDelta, SIGN_LEGEND } from './signs.ts';
import { bestGuardrailChecks } from './judge-run.ts';
import type { GuardrailCheck } from './guardrails.ts';
import { sanitize } from './sanitize.ts';

export interface KeptChange {
  run_id: string;
  segment: number;
  description: string;
  /** The best before this keep (null for a segment's baseline). */
  from: number | null;
  to: number | null;
  /** Improvement over `from` in the metric's direction (positive = better), as the engine judged it. */
  delta: number | null;
  /** Raw relative change from → to, in percent (negative = the number went down). */
  change_pct: number | null;
  commit: string | null;
  files: string[];
  /** The first keep of a segment: the measurement every later keep is compared with. */
  baseline: boolean;
}

export interface DeadEnd {
  run_id: string;
  verdict: Exclude<Verdict, 'keep'>;
  description: string;
  reason: string;
}

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
  termination: { terminated: boolean; by: string | null; message: string };
  goal_met: { target: number | null; reached: boolean | null; gap: number | null; gap_pct: number | null };
  /** Where the best run's artifacts are kept (repo-relative), or null. */
  best_artifacts: { run_id: string; dir: string; files: string[] } | null;
  /** Every stated hypothesis with what the run showed and the evidence it rested on. */
  hypotheses: Hypothesis[];
  /** Every guardrail, the best's value against the segment's baseline. */
  guardrails: GuardrailCheck[];
  warnings: string[];
}

export interface Hypothesis {
  run_id: string;
  hypothesis: string;
  verdict: Verdict;
  reason: string;
  evidence: { file: string; what: string }[];
}

/** Hypotheses paired with their outcomes, in ledger order. */
export function hypotheses(lines: readonly LedgerLine[]): Hypothesis[] {
  const out: Hypothesis[] = [];
  for (const l of lines) {
    if (l.type !== 'result' || (!l.hypothesis && !l.evidence.length)) continue;
    out.push({ run_id: l.run_id, hypothesis: l.hypothesis ?? '', verdict: l.verdict, reason: l.reason, evidence: l.evidence.map((e) => ({ file: e.file, what: e.what })) });
  }
  return out;
}

/** Raw relative change in percent, or null when it has no meaning. */
export function changePct(from: number | null, to: number | null): number | null {
  if (from === null || to === null || from === 0) return null;
  return ((to - from) / Math.abs(from)) * 100;
}

/**
 * "score 100 → 72 (+28%)": how a change is stated in the report and in final
 * commit messages. With the direction the % is + = better (signs.ts); without
 * it, the raw change of the number.
 */
export function effectText(metric: string, unit: string, from: number | null, to: number | null, direction?: Direction): string {
  const u = unit ? ` ${unit}` : '';
  if (from === null) return `${metric} ${fmt(to)}${u} (baseline)`;
  if (direction && to !== null) return `${metric} ${fmt(from)} → ${fmt(to)}${u} (${formatChange(direction, to, from)})`;
  return `${metric} ${fmt(from)} → ${fmt(to)}${u} (${pct(changePct(from, to))})`;
}

/** Every kept change (segment baselines marked), with its commit, in ledger order. */
export function keptChanges(lines: readonly LedgerLine[]): KeptChange[] {
  const out: KeptChange[] = [];
  const commits = new Map<string, string>();
  let best: number | null = null;
  let segmentHasKeep = false;
  for (const line of lines) {
    if (line.type === 'config') {
      // Mirrors reduce.ts: a new segment measures from scratch.
      best = null;
      segmentHasKeep = false;
    } else if (line.type === 'result') {
      if (line.verdict === 'keep') {
        out.push({
          run_id: line.run_id,
          segment: line.segment,
          description: line.description,
          from: segmentHasKeep ? best : null,
          to: line.primary,
          delta: line.delta,
          change_pct: segmentHasKeep ? changePct(best, line.primary) : null,
          commit: null,
          files: line.files,
          baseline: !segmentHasKeep,
        });
        best = line.primary;
        segmentHasKeep = true;
      } else if (line.rebaseline && line.status === 'ok' && line.primary !== null) {
        best = line.primary;
      }
    } else if (line.event === 'committed' && line.run_id && typeof line.data.commit === 'string') {
      commits.set(line.run_id, line.data.commit);
    }
  }
  for (const k of out) k.commit = commits.get(k.run_id) ?? null;
  return out;
}

export function deadEnds(lines: readonly LedgerLine[]): DeadEnd[] {
  const out: DeadEnd[] = [];
  for (const line of lines) {
    if (line.type !== 'result' || line.verdict === 'keep' || line.rebaseline) continue;
    out.push({ run_id: line.run_id, verdict: line.verdict, description: line.description, reason: line.reason });
  }
  return out;
}

export function buildReport(exp: Experiment): ReportData {
  const { config: c, state: s } = exp;
  const read = readLedger(exp.paths.ledger);
  const lines = read.lines;
  const configs = lines.filter((l) => l.type === 'config');
  const results = lines.filter((l) => l.type === 'result');
  const byVerdict: Record<Verdict, number> = { keep: 0, discard: 0, crash: 0, timeout: 0, checks_failed: 0, invalid: 0 };
  for (const r of results) byVerdict[r.verdict]++;

  const t = currentTermination(exp);
  // Prefer the message recorded when it terminated: the live one can carry a
  // clock reading that would make the report differ from call to call.
  const lastConfig = lines.reduce((i, l, idx) => (l.type === 'config' ? idx : i), -1);
  const recorded = lines
    .slice(lastConfig + 1)
    .filter((l) => l.type === 'event' && l.event === 'terminated')
    .map((l) => (l.type === 'event' ? l.data : {}))
    .find((d) => d.by === t.by);
  const message = t.terminate && recorded && typeof recorded.message === 'string' ? recorded.message : t.message;

  let goal: ReportData['goal_met'] = { target: c.target, reached: null, gap: null, gap_pct: null };
  if (c.target !== null) {
    if (s.best === null) goal = { target: c.target, reached: false, gap: null, gap_pct: null };
    else if (reached(c.direction, s.best, c.target)) goal = { target: c.target, reached: true, gap: 0, gap_pct: 0 };
    else {
      const gap = Math.abs(s.best - c.target);
      goal = { target: c.target, reached: false, gap, gap_pct: s.best === 0 ? null : (gap / Math.abs(s.best)) * 100 };
    }
  }
  const conf = confidenceOf(s);
  return {
    experiment: exp.paths.slug,
    goal: c.goal,
    metric: c.metric,
    direction: c.direction,
    unit: c.unit,
    segments: configs.length,
    start: configs[0]?.base ?? null,
    best_commit: s.best_commit,
    baseline: s.baseline,
    best: s.best,
    change_abs: s.best !== null && s.baseline !== null ? s.best - s.baseline : null,
    change_pct: changePct(s.baseline, s.best),
    gain_pct: gainPct(s, c),
    confidence: { value: conf.value, label: conf.label },
    runs: { total: results.length, by_verdict: byVerdict, rebaselines: results.filter((r) => r.rebaseline).length },
    kept: keptChanges(lines),
    dead_ends: deadEnds(lines),
    // The cached state keeps the newest changes only; the report has the whole ledger at hand.
    health_history: foldLines(emptyState(), lines, c, { healthHistory: Infinity }).health_history,
    termination: { terminated: t.terminate, by: t.by, message },
    goal_met: goal,
    best_artifacts: bestArtifactsLine(exp),
    hypotheses: hypotheses(lines),
    guardrails: bestGuardrailChecks(c, s),
    warnings: [...read.warnings],
  };
}

function short(sha: string | null): string {
  return sha ? sha.slice(0, 12) : '-';
}

export function renderMarkdown(r: ReportData): string {
  const u = r.unit ? ` ${r.unit}` : '';
  const out: string[] = [`# autoloop report: ${r.experiment}`, ''];
  out.push(`- **Goal:** ${r.goal ? clip(r.goal, 400) : '(none stated)'}`);
  out.push(`- **Metric:** ${r.metric} (${r.direction} is better${r.unit ? `, ${r.unit}` : ''})`);
  if (r.best === null || r.baseline === null) out.push('- **Result:** no baseline measured');
  else {
    const d = signedDelta(r.direction, r.best, r.baseline);
    const change = ` (Δ ${d > 0 ? '+' : d < 0 ? '−' : ''}${fmt(Math.abs(d))}${u}, ${r.gain_pct === null ? '-' : formatSignedPct(r.gain_pct)})`;
    const verdict = r.gain_pct === null ? '' : r.gain_pct > 0 ? ', better' : r.gain_pct < 0 ? ', worse' : ', unchanged';
    out.push(`- **Result:** baseline ${fmt(r.baseline)}${u} → best ${fmt(r.best)}${u}${change}${verdict}`);
    out.push(`- **Signs:** ${SIGN_LEGEND}`);
  }
  out.push(`- **Confidence:** ${r.confidence.value === null ? 'n/a (too few runs or no spread)' : `${r.confidence.value.toFixed(1)}x (${r.confidence.label})`}`);
  const g = r.goal_met;
  if (g.target === null) out.push('- **Goal met:** no numeric target was set');
  else if (g.reached) out.push(`- **Goal met:** yes (target ${fmt(g.target)}${u}, best ${fmt(r.best)}${u})`);
  else if (g.gap === null) out.push(`- **Goal met:** no (target ${fmt(g.target)}${u}; nothing measured)`);
  else out.push(`- **Goal met:** no: ${fmt(g.gap)}${u} short of the target ${fmt(g.target)}${u}${g.gap_pct === null ? '' : ` (a further ${g.gap_pct.toFixed(1)}% of the best)`}`);
  out.push(`- **Ended:** ${r.termination.terminated ? `terminated by ${r.termination.by} ${r.termination.message.replace(/^terminated: \S+ /, '')}` : `not terminated (${r.termination.message})`}`);
  const v = r.runs.by_verdict;
  const parts = (Object.keys(v) as Verdict[]).filter((k) => v[k] > 0).map((k) => `${v[k]} ${k}`);
  out.push(`- **Runs:** ${r.runs.total}${parts.length ? ` (${parts.join(', ')})` : ''}${r.runs.rebaselines ? `; ${r.runs.rebaselines} rebaseline` : ''}`);
  out.push(`- **Commits:** start ${short(r.start)}, best ${short(r.best_commit)}${r.segments > 1 ? `; ${r.segments} segments` : ''}`);
  if (r.best_artifacts) out.push(`- **Best artifacts:** \`${r.best_artifacts.dir}/\` (${r.best_artifacts.run_id}: ${clip(r.best_artifacts.files.join(', '), 200)})`);

  // A segment's baseline is the reference, not a change, unless it committed files of its own.
  const changes = r.kept.filter((k) => !k.baseline || k.files.length > 0);
  out.push('', `## Kept changes (${changes.length})`, '');
  if (!changes.length) out.push('None: no change beat the baseline.');
  changes.forEach((k, i) => {
    out.push(`${i + 1}. ${k.run_id} \`${short(k.commit)}\` ${effectText(r.metric, r.unit, k.from, k.to, r.direction)}: ${clip(k.description, 120)}`);
  });

  if (r.guardrails.length) {
    out.push('', `## Guardrails (${r.guardrails.length}, against the baseline)`, '');
    for (const g of r.guardrails) out.push(`- ${g.metric}: ${g.status}: ${g.reason}`);
  }

  out.push('', `## Dead ends (${r.dead_ends.length})`, '');
  if (!r.dead_ends.length) out.push('None.');
  for (const d of r.dead_ends) out.push(`- ${d.run_id} ${d.verdict}: ${clip(d.description, 100)} (${clip(d.reason, 100)})`);

  if (r.hypotheses.length) {
    out.push('', `## Hypotheses and outcomes (${r.hypotheses.length})`, '');
    for (const h of r.hypotheses) {
      const ev = h.evidence.length ? `; evidence: ${h.evidence.map((e) => `\`${e.file}\`${e.what ? ` (${clip(e.what, 80)})` : ''}`).join(', ')}` : '';
      out.push(`- ${h.run_id} ${h.verdict}: ${clip(h.hypothesis || '(none stated)', 160)} → ${clip(h.reason, 100)}${ev}`);
    }
  }

  out.push('', '## Health', '');
  if (!r.health_history.length) out.push('No change: the loop stayed healthy.');
  for (const h of r.health_history) {
    out.push(`- ${h.run_id ?? 'user'}: ${h.health}${h.playbook ? ` (playbook ${h.playbook})` : ''}: ${clip(h.reason, 120)}`);
  }
  if (r.warnings.length) out.push('', `Ledger warnings: ${r.warnings.length} (${clip(r.warnings[0] ?? '', 120)})`);
  // Goals and descriptions come from people and models: no escape sequence reaches the page or a terminal.
  return sanitize(out.join('\n')) + '\n';
}

export function reportHash(markdown: string): string {
  return createHash('sha256').update(markdown).digest('hex');
}
