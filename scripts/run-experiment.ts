// run-experiment: measure the working tree (commands/run.ts) and print the
// result for the model; runs/<id>/result.json is what log-experiment acts on.
import * as z from './lib/zod.ts';
import { CommonFlags, emitForModel as emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot, openExperiment, resolveSlug } from './lib/experiment.ts';
import { runCommand, type RunCommandResult } from './lib/commands/run.ts';
import { runCandidateCommand } from './lib/commands/candidate-run.ts';
import { candidateAt } from './lib/candidates/store.ts';
import { fmt } from './lib/summary.ts';

const OPTIONS = { experiment: { type: 'string' }, candidate: { type: 'string' } } as const;
const Flags = z.object({ ...CommonFlags, experiment: z.optional(z.string()), candidate: z.optional(z.string()) });

main('run-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: run-experiment [--candidate ID] [--experiment SLUG] [--cwd DIR] [--json]\n');
  const cwd = resolveCwd(f.cwd);
  const root = findRoot(cwd);
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const { config } = exp;

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  // A closed terminal (SIGHUP) ends the run like Ctrl+C or a kill: its processes go with it.
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of SIGNALS) process.once(sig, onSignal);
  // Parallel mode: --candidate, or the candidate whose worktree the call is made from.
  const candidate = f.candidate ?? candidateAt(exp.paths, cwd)?.id;
  let note: string | null = null;
  let out: RunCommandResult;
  if (candidate) {
    const r = await runCandidateCommand(exp, candidate, controller.signal);
    note = r.note;
    out = r;
  } else out = await runCommand(exp, controller.signal);
  const { record, interrupted } = out;
  for (const sig of SIGNALS) process.removeListener(sig, onSignal);

  if (interrupted) {
    const why = record.reason && record.reason !== 'interrupted' ? record.reason : 'its processes were killed';
    process.stderr.write(`run-experiment: ${record.run_id} interrupted; ${why}\n`);
    return 130;
  }
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
      ? `${record.run_id} ok ${config.metric}=${fmt(record.primary)}${unit} (best ${fmt(best)}; ${record.reason}; ${record.duration_s.toFixed(1)}s; ${record.files.length} file(s) changed)`
      : `${record.run_id} ${record.status}: ${record.reason} (${record.duration_s.toFixed(1)}s)`;
  const text = [...(note ? [`${candidate}: ${note}`] : []), head, ...record.warnings.slice(0, 3).map((w) => `warning: ${w}`)];
  if (record.queued_s >= 0.5) text.push(`queued ${Math.round(record.queued_s)}s before running (not in the duration)`);
  if (record.status !== 'ok' && record.tail) text.push('--- output tail ---', record.tail);
  text.push(`next: log-experiment ${candidate ? `--candidate ${candidate} ` : ''}--description "…"`);
  emit(f.json, data, text.join('\n'));
});
