// What run-experiment does with its flags: measure the working tree
// (commands/run.ts) and print the result for the model; runs/<id>/result.json
// is what log-experiment acts on. With --description it is the whole iteration
// in one call: measure, then log by log-experiment's rules (commands/iterate.ts),
// one short answer. In parallel mode it measures a candidate (commands/candidate-run.ts).
import * as z from '../zod.ts';
import { CommonFlags, emitForModel as emit, resolveCwd } from '../cli.ts';
import { findRoot, openExperiment, requireSegment, resolveSlug } from '../experiment.ts';
import { runCommand, type RunCommandResult } from './run.ts';
import { runCandidateCommand } from './candidate-run.ts';
import { candidateAt } from '../candidates/store.ts';
import { fmtApart } from '../summary.ts';
import { DESCRIBE_OPTIONS, DescribeFlags } from '../log-flags.ts';
import { UsageError } from '../errors.ts';
import { parseEvidence } from '../analysis.ts';
import { iterateCommand } from './iterate.ts';
import { iterateOutput } from './iterate-output.ts';
import type { Experiment } from '../experiment-data.ts';
import type { RunRecord } from '../schema.ts';

export const RUN_OPTIONS = { experiment: { type: 'string' }, candidate: { type: 'string' }, ...DESCRIBE_OPTIONS } as const;
export const RunFlags = z.object({ ...CommonFlags, experiment: z.optional(z.string()), candidate: z.optional(z.string()), ...DescribeFlags });
type Parsed = z.infer<typeof RunFlags>;
export const RUN_USAGE = 'usage: run-experiment [--description TEXT [--hypothesis TEXT] [--evidence FILE[:WHAT]]...] [--candidate ID] [--experiment SLUG] [--cwd DIR] [--json]\n';

/** Measure (and with --description, log) once; prints the answer itself. Exit code 130 when interrupted, 2 when the runner's settings were refused. */
export async function runExperimentCommand(f: Parsed): Promise<number | void> {
  if ((f.hypothesis !== undefined || f.evidence) && f.description === undefined) throw new UsageError('--hypothesis and --evidence describe the change: give --description too (or pass them to log-experiment)');
  const cwd = resolveCwd(f.cwd);
  const root = findRoot(cwd);
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  requireSegment(exp);

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  // A closed terminal (SIGHUP) ends the run like Ctrl+C or a kill: its processes go with it.
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of SIGNALS) process.once(sig, onSignal);
  // Parallel mode: --candidate, or the candidate whose worktree the call is made from.
  const candidate = f.candidate ?? candidateAt(exp.paths, cwd)?.id;
  if (candidate && f.description !== undefined) {
    throw new UsageError(`--description is not taken with a candidate (their logs wait for the best to settle): run-experiment --candidate ${candidate}, then log-experiment --candidate ${candidate} --description "…"`);
  }
  if (f.description !== undefined) {
    const evidence = (f.evidence ?? []).map((e) => parseEvidence(root, e));
    const r = await iterateCommand(exp, controller.signal, { description: f.description, hypothesis: f.hypothesis, evidence, discard: false });
    for (const sig of SIGNALS) process.removeListener(sig, onSignal);
    if (r.kind === 'interrupted') return interruptedExit(r.record);
    const { data, text } = iterateOutput(exp, r.record, r.log, r.recovered);
    return emit(f.json, data, text);
  }
  let note: string | null = null;
  let out: RunCommandResult;
  if (candidate) {
    const r = await runCandidateCommand(exp, candidate, controller.signal);
    note = r.note;
    out = r;
  } else out = await runCommand(exp, controller.signal);
  for (const sig of SIGNALS) process.removeListener(sig, onSignal);
  if (out.interrupted) return interruptedExit(out.record);
  printMeasured(f, exp, out.record, candidate, note);
}

function interruptedExit(record: RunRecord): number {
  if (record.config_error) {
    // The user's settings, not the code under test: nothing was run or counted; retrying will not help.
    process.stderr.write(`run-experiment: ${record.run_id} not run: ${record.config_error}; fix the runner's settings in config.yaml\n`);
    return 2;
  }
  const why = record.reason && record.reason !== 'interrupted' ? record.reason : 'its processes were killed';
  process.stderr.write(`run-experiment: ${record.run_id} interrupted; ${why}\n`);
  return 130;
}

/** The two-step form's answer: what was measured, and that log-experiment comes next. */
function printMeasured(f: Parsed, exp: Experiment, record: RunRecord, candidate: string | undefined, note: string | null): void {
  const { config } = exp;
  const best = exp.state.best;
  const unit = config.unit ? ` ${config.unit}` : '';
  const data = {
    run_id: record.run_id,
    status: record.status,
    primary: record.primary,
    // Every byte here is read every iteration: the other metrics only (the primary is given),
    // and a reason only when the run is not ok (an ok run's is its sample count).
    ...(Object.keys(record.metrics).some((k) => k !== config.metric) ? { metrics: Object.fromEntries(Object.entries(record.metrics).filter(([k]) => k !== config.metric)) } : {}),
    best,
    duration_s: Number(record.duration_s.toFixed(3)),
    ...(record.queued_s >= 0.5 ? { queued_s: Math.round(record.queued_s) } : {}),
    ...(candidate ? { candidate, note } : {}),
    samples: record.samples.length,
    ...(record.status !== 'ok' ? { reason: record.reason } : {}),
    files: record.files,
    ...(record.warnings.length ? { warnings: record.warnings.slice(0, 5) } : {}),
    ...(record.status !== 'ok' ? { tail: record.tail } : {}),
  };
  const head =
    record.status === 'ok'
      ? `${record.run_id} ok ${config.metric}=${fmtApart(record.primary, best).join(`${unit} (best `)}; ${record.reason}; ${record.duration_s.toFixed(1)}s; ${record.files.length} file(s) changed)`
      : `${record.run_id} ${record.status}: ${record.reason} (${record.duration_s.toFixed(1)}s)`;
  const text = [...(note ? [`${candidate}: ${note}`] : []), head, ...record.warnings.slice(0, 3).map((w) => `warning: ${w}`)];
  if (record.queued_s >= 0.5) text.push(`queued ${Math.round(record.queued_s)}s before running (not in the duration)`);
  if (record.status !== 'ok' && record.tail) text.push('--- output tail ---', record.tail);
  text.push(`next: log-experiment ${candidate ? `--candidate ${candidate} ` : ''}--description "…"`);
  emit(f.json, data, text.join('\n'));
}
