// log-experiment: record the last measured run and act on it. The verdict is
// decided here, in code; the caller can only describe the change or throw it
// away (--discard). The result reaches the ledger before the tree is touched.
import { z } from 'zod';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import {
  append,
  currentTermination,
  event,
  findRoot,
  latestRunNumber,
  openExperiment,
  readRunRecord,
  publishActive,
  reconcile,
  resolveSlug,
  trailers,
  withLock,
  type Experiment,
} from './lib/experiment.ts';
import { openWorkspace } from './lib/workspace.ts';
import { changedFingerprints, fingerprint, restoreJudges } from './lib/integrity.ts';
import { decideVerdict } from './lib/verdict.ts';
import { noiseOf } from './lib/noise.ts';
import type { ResultLine, RunRecord } from './lib/schema.ts';
import { runDir, runId as formatRunId } from './lib/paths.ts';
import { writeJsonAtomic } from './lib/fsx.ts';
import { nowIso } from './lib/ledger.ts';
import { RefusalError, UsageError } from './lib/errors.ts';
import { confidenceOf, gainPct } from './lib/reduce.ts';
import { clip, fmt, pct, progressLine } from './lib/summary.ts';
import { chainBudgetLine, safeChainStatus } from './lib/chain.ts';
import { crashPoint } from './lib/faults.ts';

const OPTIONS = {
  experiment: { type: 'string' },
  description: { type: 'string', short: 'd' },
  hypothesis: { type: 'string' },
  discard: { type: 'boolean', default: false },
} as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.string().optional(),
  description: z.string().trim().min(1, 'must describe the change').max(500).optional(),
  hypothesis: z.string().max(1000).optional(),
  discard: z.boolean(),
});

function measuredRun(exp: Experiment): RunRecord {
  const n = latestRunNumber(exp);
  const rec = n ? readRunRecord(exp, formatRunId(n)) : null;
  if (!rec) throw new RefusalError('no measured run to log: run run-experiment first');
  if (rec.phase === 'logged') throw new RefusalError(`run ${rec.run_id} is already logged: run run-experiment for the next change`);
  if (rec.phase !== 'measured') throw new RefusalError(`run ${rec.run_id} was ${rec.phase}, not measured: run run-experiment again`);
  if (rec.segment !== exp.state.segment) throw new RefusalError(`run ${rec.run_id} belongs to segment ${rec.segment}, not ${exp.state.segment}: run run-experiment again`);
  return rec;
}

main('log-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: log-experiment --description TEXT [--hypothesis TEXT] [--discard] [--experiment SLUG] [--cwd DIR] [--json]\n');
  if (!f.description) throw new UsageError('--description is required');
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const { config } = exp;
  let line!: ResultLine;
  let commit: string | null = null;
  let restored: string[] = [];

  await withLock(exp, 'log-experiment', async () => {
    const ws = await openWorkspace(root, exp.paths, config);
    const fixed = await reconcile(exp, ws);
    if (fixed.length) process.stderr.write(`reconciled: ${fixed.join('; ')}\n`);
    const rec = measuredRun(exp);
    const status = rec.status ?? 'crash';
    const s = exp.state;
    // No in-scope change on an ok run = the best measured again.
    const rebaseline = status === 'ok' && s.best_run !== null && rec.files.length === 0;
    const best = s.best_run ? { samples: s.best_samples, metrics: s.best_metrics } : null;
    const v = rebaseline
      ? { verdict: 'discard' as const, reason: 'rebaseline: the unchanged best was re-measured', delta: null, improved: false }
      : decideVerdict({
          status,
          samples: rec.samples,
          metrics: rec.metrics,
          best,
          direction: config.direction,
          noise: noiseOf(s.noise),
          minImprovement: config.min_improvement,
          guardrails: config.guardrails,
          discard: f.discard,
        });
    line = {
      type: 'result',
      ts: nowIso(),
      segment: s.segment,
      run_id: rec.run_id,
      status,
      verdict: v.verdict,
      primary: rec.primary,
      samples: rec.samples,
      metrics: rec.metrics,
      description: f.description!,
      hypothesis: f.hypothesis ?? null,
      reason: status === 'ok' ? v.reason : rec.reason || v.reason,
      delta: v.delta,
      duration_s: rec.duration_s,
      files: rec.files,
      rebaseline,
    };
    // 1. the record first: whatever happens next, the run is in the ledger.
    crashPoint('before-ledger');
    append(exp, line);
    crashPoint('after-ledger');
    // 2. then the tree.
    if (v.verdict === 'keep') {
      const msg = `autoloop: ${clip(f.description!, 72)}`;
      commit = rec.files.length ? await ws.keep(rec.files, msg, trailers(exp, rec.run_id, rec.primary)) : await ws.head();
      crashPoint('after-commit');
      event(exp, 'committed', { commit }, rec.run_id);
    } else {
      const prints = exp.state.fingerprints;
      if (prints) {
        const files = Object.keys(prints.files);
        if (changedFingerprints(prints, fingerprint(root, config, files)).some((x) => x !== 'config')) {
          restored = restoreJudges(root, exp.paths.judges, files);
        }
      }
      crashPoint('after-judges');
      const reverted = await ws.revert();
      crashPoint('after-revert');
      event(exp, 'reverted', { files: reverted, judges: restored }, rec.run_id);
    }
    crashPoint('after-event');
    writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'logged' });
    crashPoint('after-record');
    const t = currentTermination(exp);
    if (t.terminate && !exp.state.terminated_event) event(exp, 'terminated', { by: t.by, message: t.message }, rec.run_id);
    publishActive(exp, t);
  });

  const s = exp.state;
  const t = currentTermination(exp);
  const conf = confidenceOf(s);
  const h = s.health;
  const unit = config.unit ? ` ${config.unit}` : '';
  // Which rule fired is terminated_by; whether a follow-up may start is the chain budget's call.
  const chain = safeChainStatus(root, exp.paths.slug);
  const data = {
    run_id: line.run_id,
    verdict: line.verdict,
    reason: line.reason,
    commit,
    primary: line.primary,
    best: s.best,
    baseline: s.baseline,
    gain_pct: gainPct(s, config),
    confidence: conf.value,
    confidence_label: conf.label,
    health: h.health,
    health_reason: h.reason,
    next_action: t.terminate ? 'run /autoloop:chain' : h.next_action,
    should_terminate: t.terminate,
    terminated_by: t.by,
    chain_allowed: t.terminate && chain.allowed,
    chain_remaining: chain.remaining,
    runs: s.runs_total,
    ...(restored.length ? { restored_judges: restored } : {}),
  };
  const text = [
    `${line.run_id} ${line.verdict.toUpperCase()}: ${line.reason}${commit ? ` [${String(commit).slice(0, 8)}]` : ''}`,
    `best ${fmt(s.best)}${unit} vs baseline ${fmt(s.baseline)}${unit} (${pct(gainPct(s, config))}); confidence ${conf.value === null ? 'n/a' : `${conf.value.toFixed(1)}x ${conf.label}`}`,
    `health ${h.health}: ${h.reason}; ${progressLine(t)}`,
    restored.length ? `restored protected files: ${restored.join(' ')}` : '',
    t.terminate ? `STOP: ${t.message}. Next: /autoloop:chain` : `next: ${h.next_action}`,
    t.terminate ? chainBudgetLine(chain) : '',
  ].filter(Boolean);
  emit(f.json, data, text.join('\n'));
});
