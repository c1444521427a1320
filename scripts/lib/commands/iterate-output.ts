// What the one-call iteration prints: one short answer for the measurement and
// the verdict together (read every iteration, so every byte counts: details
// only when the run was not ok or the loop is not running ordinarily).
import type { Experiment } from '../experiment.ts';
import { artifactsFields, artifactsNote, currentTermination, movedNote } from '../experiment.ts';
import { confidenceOf, gainPct } from '../reduce.ts';
import { fmtApart, gainText, progressLine } from '../summary.ts';
import { ratio } from '../format.ts';
import { nextAction } from '../next-action.ts';
import { chainBudgetLine, safeChainStatus } from '../chain.ts';
import type { RunRecord } from '../schema.ts';
import type { LogResult } from './log.ts';

const ORDINARY = new Set(['running', 'improving']);

export function iterateOutput(exp: Experiment, record: RunRecord, r: LogResult, recovered: boolean): { data: Record<string, unknown>; text: string } {
  const { config, state: s } = exp;
  const { line, commit, restored } = r;
  const t = currentTermination(exp);
  const conf = confidenceOf(s);
  const h = s.health;
  const unit = config.unit ? ` ${config.unit}` : '';
  const ok = line.status === 'ok';
  const others = Object.entries(line.metrics).filter(([k]) => k !== config.metric);
  const chain = t.terminate ? safeChainStatus(exp.root, exp.paths.slug) : null;
  const next = t.terminate ? 'run /autoloop:chain' : nextAction(s);
  const data = {
    run_id: line.run_id,
    ...(recovered ? { recovered: true } : {}),
    status: line.status,
    verdict: line.verdict,
    reason: line.reason,
    primary: line.primary,
    ...(others.length ? { metrics: Object.fromEntries(others) } : {}),
    ...(commit ? { commit: commit.slice(0, 12) } : {}),
    best: s.best,
    baseline: s.baseline,
    gain_pct: gainPct(s, config),
    confidence: conf.value,
    samples: line.samples.length,
    duration_s: line.duration_s,
    health: h.health,
    ...(ORDINARY.has(h.health) ? {} : { health_reason: h.reason }),
    ...(record.warnings.length ? { warnings: record.warnings.slice(0, 3) } : {}),
    ...(!ok && record.tail ? { tail: record.tail } : {}),
    ...(restored.length ? { restored_judges: restored } : {}),
    ...artifactsFields(exp, line.run_id, r.artifacts),
    ...(r.moved ? { moved_new_files: { to: r.moved.to, count: r.moved.files.length, files: r.moved.files.slice(0, 3) } } : {}),
    next_action: next,
    should_terminate: t.terminate,
    ...(t.terminate ? { terminated_by: t.by, chain_allowed: chain?.allowed, chain_remaining: chain?.remaining } : {}),
  };
  // The value, the best and the baseline with the digits that tell them apart.
  const [value, best, baseline] = fmtApart(line.primary, s.best, s.baseline);
  const measured = ok ? `${config.metric}=${value}${unit}` : line.status;
  const text = [
    ...(recovered ? [`${line.run_id} was measured by a call that ended before logging it: logged now, nothing new measured`] : []),
    `${line.run_id} ${measured} → ${line.verdict.toUpperCase()}: ${line.reason}${commit ? ` [${commit.slice(0, 8)}]` : ''}`,
    `best ${best}${unit} vs baseline ${baseline}${unit} (${gainText(gainPct(s, config), s.baseline)}); confidence ${conf.value === null ? 'n/a' : `${ratio(conf.value)}x`}; ${line.samples.length} sample(s), ${line.duration_s.toFixed(1)}s`,
    ORDINARY.has(h.health) ? '' : `health ${h.health}: ${h.reason}`,
    ...record.warnings.slice(0, 3).map((w) => `warning: ${w}`),
    restored.length ? `restored protected files: ${restored.join(' ')}` : '',
    artifactsNote(exp, line.run_id, r.artifacts),
    r.moved ? movedNote(exp, line.run_id, r.moved.files) : '',
    !ok && record.tail ? `--- output tail ---\n${record.tail}` : '',
    t.terminate ? `STOP: ${t.message}. Next: /autoloop:chain\n${progressLine(t)}` : `next: ${next}`,
    chain ? chainBudgetLine(chain) : '',
  ].filter(Boolean);
  return { data, text: text.join('\n') };
}
