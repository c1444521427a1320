// The lists a report is made of, each from ledger lines in ledger order:
// the kept changes (with the best each replaced), the dead ends, and the
// stated hypotheses with their outcomes. Pure.
import type { Direction, LedgerLine, Verdict } from './schema.ts';

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
  /**
   * Set (true) on a baseline whose commit is not the one before it: init-experiment
   * took commits made outside the loop, which finalize puts on the branch as a change.
   */
  adopted?: boolean;
  /** Its segment's metric, direction and unit, set only where they are not the current segment's (segment-metrics.ts). */
  metric?: string;
  direction?: Direction;
  unit?: string;
}

export interface DeadEnd {
  run_id: string;
  verdict: Exclude<Verdict, 'keep'>;
  description: string;
  reason: string;
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

/**
 * Whether a baseline without files of its own took commits made outside the
 * loop: its commit is not the one before it (the keep's before, or the start
 * for the first), so finalize replays it. Without a commit, nothing to replay.
 */
export function adoptedBaseline(k: Pick<KeptChange, 'baseline' | 'files' | 'commit'>, before: string | null): boolean {
  return k.baseline && !k.files.length && k.commit !== null && before !== null && k.commit !== before;
}

/** A keep the report lists as a change: what finalize puts on the branch (a segment's baseline is the reference, unless it carries files or commits of its own). */
export function isChange(k: KeptChange): boolean {
  return !k.baseline || k.files.length > 0 || k.adopted === true;
}

/** Raw relative change in percent, or null when it has no meaning. */
export function changePct(from: number | null, to: number | null): number | null {
  if (from === null || to === null || from === 0) return null;
  return ((to - from) / Math.abs(from)) * 100;
}

/** Every kept change (segment baselines marked), with its commit, in ledger order. */
export function keptChanges(lines: readonly LedgerLine[]): KeptChange[] {
  const out: KeptChange[] = [];
  const commits = new Map<string, string>();
  let start: string | null | undefined;
  let best: number | null = null;
  let segmentHasKeep = false;
  for (const line of lines) {
    if (line.type === 'config') {
      if (start === undefined) start = line.base;
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
  out.forEach((k, j) => {
    k.commit = commits.get(k.run_id) ?? null;
    if (adoptedBaseline(k, j > 0 ? (out[j - 1] as KeptChange).commit : (start ?? null))) k.adopted = true;
  });
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

