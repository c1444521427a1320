// run-experiment: measure the working tree. Takes as many samples of the
// benchmark as the noise policy asks for, each under the watchdog, then the
// checks; writes runs/<id>/result.json for log-experiment to act on.
import fs from 'node:fs';
import { z } from 'zod';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import {
  assertNotUnclean,
  currentTermination,
  event,
  findRoot,
  latestRunNumber,
  openExperiment,
  readRunRecord,
  publishActive,
  reconcile,
  resolveSlug,
  withLock,
  type Experiment,
} from './lib/experiment.ts';
import { openWorkspace } from './lib/workspace.ts';
import { changedFingerprints, fingerprint } from './lib/integrity.ts';
import { runUnderWatchdog, groupSurvivors, type RunOutcome } from './lib/watchdog.ts';
import { pidAlive, procStart } from './lib/procs.ts';
import { parseMetrics } from './lib/metrics.ts';
import { center, needMoreSamples, noiseOf } from './lib/noise.ts';
import { median } from './lib/stats.ts';
import { runDir, runId as formatRunId } from './lib/paths.ts';
import { RunRecord, type RunStatus } from './lib/schema.ts';
import { writeJsonAtomic } from './lib/fsx.ts';
import { nowIso } from './lib/ledger.ts';
import { RefusalError } from './lib/errors.ts';
import { fmt } from './lib/summary.ts';

const OPTIONS = { experiment: { type: 'string' } } as const;
const Flags = z.object({ ...CommonFlags, experiment: z.string().optional() });
const MAX_SAMPLES = 100;
const TAIL_LINES = 40;
const TAIL_BYTES = 4096;

function latestRun(exp: Experiment): { id: string; record: RunRecord | null } | null {
  const n = latestRunNumber(exp);
  if (!n) return null;
  const id = formatRunId(n);
  return { id, record: readRunRecord(exp, id) };
}

/** A run left 'running' by a killed call: record it as interrupted, and unclean if its processes live on. */
function settleAbandonedRun(exp: Experiment): void {
  const last = latestRun(exp);
  if (!last?.record || last.record.phase !== 'running') return;
  const rec = last.record;
  // A leader alive with another start time means the pgid was recycled: not ours.
  const recycled = rec.pgid !== null && rec.pgid_start !== null && pidAlive(rec.pgid) && !pidAlive(rec.pgid, rec.pgid_start);
  const survivors = rec.pgid && !recycled ? groupSurvivors(rec.pgid) : [];
  writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'interrupted', reason: 'the engine was killed during the run' });
  event(exp, 'interrupted', { reason: 'engine killed during the run', survivors }, rec.run_id);
  if (survivors.length) {
    writeJsonAtomic(exp.paths.unclean, { run_id: rec.run_id, pgid: rec.pgid, pids: survivors, ts: nowIso() });
    event(exp, 'unclean', { pids: survivors }, rec.run_id);
  }
}

function boundTail(text: string): string {
  let lines = text.split('\n');
  if (lines.length > TAIL_LINES) lines = lines.slice(-TAIL_LINES);
  let out = lines.join('\n');
  if (Buffer.byteLength(out) > TAIL_BYTES) out = Buffer.from(out).subarray(-TAIL_BYTES).toString('utf8');
  return out;
}

main('run-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: run-experiment [--experiment SLUG] [--cwd DIR] [--json]\n');
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const { config } = exp;

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let record!: RunRecord;
  let interrupted = false;
  await withLock(exp, 'run-experiment', async () => {
    settleAbandonedRun(exp);
    assertNotUnclean(exp);
    const ws = await openWorkspace(root, exp.paths, config);
    const fixed = await reconcile(exp, ws);
    if (fixed.length) process.stderr.write(`reconciled: ${fixed.join('; ')}\n`);
    const t = currentTermination(exp);
    if (t.terminate) throw new RefusalError(`${t.message}; start a follow-up with /autoloop:chain or raise the budget in config.yaml`);
    if (exp.state.stopped) throw new RefusalError('the loop is stopped by the user; control.mjs resume to continue');
    if (exp.state.health.health === 'paused') throw new RefusalError(`the loop is paused (${exp.state.health.reason}); control.mjs resume to continue`);
    const last = latestRun(exp);
    if (last?.record?.phase === 'measured' && last.record.segment === exp.state.segment) {
      throw new RefusalError(`run ${last.id} is measured but not logged: run log-experiment first`);
    }

    const id = formatRunId(Math.max(exp.state.next_run, last ? Number(last.id.slice(1)) + 1 : 1));
    const rd = runDir(exp.paths, id);
    fs.mkdirSync(rd.dir, { recursive: true });
    const started = Date.now();
    record = RunRecord.parse({
      run_id: id,
      segment: exp.state.segment,
      started_at: nowIso(),
      finished_at: null,
      phase: 'running',
      status: null,
      primary: null,
      samples: [],
      metrics: {},
    });
    writeJsonAtomic(rd.result, record);
    const save = () => writeJsonAtomic(rd.result, record);
    const finish = (status: RunStatus, reason: string, tail = '') => {
      record = { ...record, status, reason, tail: boundTail(tail), phase: 'measured', finished_at: nowIso(), duration_s: (Date.now() - started) / 1000 };
    };

    // The judge must be the one fingerprinted when the segment opened.
    const changed = exp.state.fingerprints ? changedFingerprints(exp.state.fingerprints, fingerprint(root, config, Object.keys(exp.state.fingerprints.files))) : [];
    const outside = ws.mode === 'git' ? await ws.outOfScopeChanges() : [];
    record.files = await ws.changedInScope();
    if (changed.length) {
      finish('invalid', `benchmark integrity: ${changed.join(', ')} changed since the segment opened (logging restores protected files; a new rule needs init-experiment)`);
    } else if (outside.length) {
      finish('invalid', `changes outside the scope: ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? ' …' : ''} (undo them; only in-scope files may change)`);
    } else {
      const perMetric = new Map<string, number[]>();
      const warnings = new Set<string>();
      const best = exp.state.best_run ? exp.state.best_samples : null;
      const noise = noiseOf(exp.state.noise);
      let outcome: RunOutcome | null = null;
      // A person at a terminal sees progress; the model (no TTY) sees nothing extra.
      const progress = process.stderr.isTTY
        ? setInterval(() => process.stderr.write(`\r\x1b[2K${id} sample ${record.samples.length + 1}… ${((Date.now() - started) / 1000).toFixed(0)}s`), 500)
        : null;
      for (let i = 1; i <= MAX_SAMPLES; i++) {
        outcome = await runUnderWatchdog({
          command: config.command,
          cwd: root,
          timeoutS: config.timeout,
          graceS: config.grace,
          logFile: rd.log,
          header: `== ${id} sample ${i}: ${config.command}`,
          signal: controller.signal,
          env: { AUTOLOOP_RUN: id, AUTOLOOP_SAMPLE: String(i) },
          onStart: (pgid) => {
            record.pgid = pgid;
            record.pgid_start = procStart(pgid);
            save();
          },
        });
        record.pgid = null;
        if (outcome.interrupted) break;
        if (outcome.survivors.length) break;
        if (outcome.timedOut || outcome.spawnError || outcome.exitCode !== 0) break;
        const parsed = parseMetrics(outcome.metricLines);
        parsed.warnings.forEach((w) => warnings.add(w));
        for (const [k, v] of Object.entries(parsed.metrics)) perMetric.set(k, [...(perMetric.get(k) ?? []), v]);
        const primary = parsed.metrics[config.metric];
        if (primary === undefined) break;
        record.samples.push(primary);
        if (!needMoreSamples({ repeats: config.repeats, samples: record.samples, best, noise, direction: config.direction })) break;
      }
      // Files the benchmark itself wrote outside the scope (caches, reports) must
      // not make the next run look like an out-of-scope edit.
      if (ws.mode === 'git') await ws.settleOutOfScope();
      if (progress) {
        clearInterval(progress);
        process.stderr.write('\r\x1b[2K');
      }
      record.warnings = [...warnings];
      for (const [k, vs] of perMetric) record.metrics[k] = median(vs);
      const o = outcome;
      if (!o) finish('crash', 'no sample was taken');
      else if (o.interrupted) {
        interrupted = true;
        record = { ...record, phase: 'interrupted', reason: 'interrupted', finished_at: nowIso() };
      } else if (o.survivors.length) {
        writeJsonAtomic(exp.paths.unclean, { run_id: id, pids: o.survivors, ts: nowIso() });
        event(exp, 'unclean', { pids: o.survivors }, id);
        finish('crash', `processes survived the kill (pids ${o.survivors.join(', ')}); run control.mjs repair`, o.tail);
      } else if (o.timedOut) finish('timeout', `timed out after ${config.timeout}s (process group killed)`, o.tail);
      else if (o.spawnError) finish('crash', `could not start: ${o.spawnError}`, o.tail);
      else if (o.exitCode !== 0) finish('crash', `exit code ${o.exitCode}${o.signal ? ` (${o.signal})` : ''}`, o.tail);
      else if (!record.samples.length) finish('invalid', `metric ${config.metric} was not printed (expected a line "METRIC ${config.metric}=<number>")`, o.tail);
      else {
        record.primary = center(record.samples);
        record.metrics[config.metric] = record.primary;
        finish('ok', `${record.samples.length} sample${record.samples.length > 1 ? 's' : ''}`);
        if (config.checks) {
          const c = await runUnderWatchdog({
            command: config.checks,
            cwd: root,
            timeoutS: config.checks_timeout,
            graceS: config.grace,
            logFile: rd.log,
            header: `== ${id} checks: ${config.checks}`,
            signal: controller.signal,
            env: { AUTOLOOP_RUN: id },
            onStart: (pgid) => {
              record.pgid = pgid;
              record.pgid_start = procStart(pgid);
              save();
            },
          });
          record.pgid = null;
          record.checks = { passed: !c.timedOut && !c.spawnError && c.exitCode === 0 && !c.interrupted, exit_code: c.exitCode, timed_out: c.timedOut, duration_s: c.durationS };
          if (c.interrupted) {
            interrupted = true;
            record = { ...record, phase: 'interrupted', reason: 'interrupted during checks' };
          } else if (c.survivors.length) {
            writeJsonAtomic(exp.paths.unclean, { run_id: id, pids: c.survivors, ts: nowIso() });
            finish('crash', `checks left processes alive (pids ${c.survivors.join(', ')}); run control.mjs repair`, c.tail);
          } else if (!record.checks.passed) {
            finish('checks_failed', c.timedOut ? `checks timed out after ${config.checks_timeout}s` : `checks failed (exit code ${c.exitCode})`, c.tail);
          }
        }
      }
    }
    save();
    if (interrupted) event(exp, 'interrupted', { reason: 'signal' }, id);
    publishActive(exp, currentTermination(exp));
  });
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);

  if (interrupted) {
    process.stderr.write(`run-experiment: ${record.run_id} interrupted; its processes were killed\n`);
    return 130;
  }
  const best = exp.state.best;
  const unit = config.unit ? ` ${config.unit}` : '';
  const data = {
    run_id: record.run_id,
    status: record.status,
    primary: record.primary,
    metrics: record.metrics,
    best,
    duration_s: Number(record.duration_s.toFixed(3)),
    samples: record.samples.length,
    reason: record.reason,
    files: record.files,
    ...(record.warnings.length ? { warnings: record.warnings.slice(0, 5) } : {}),
    ...(record.status !== 'ok' ? { tail: record.tail } : {}),
  };
  const head =
    record.status === 'ok'
      ? `${record.run_id} ok ${config.metric}=${fmt(record.primary)}${unit} (best ${fmt(best)}; ${record.reason}; ${record.duration_s.toFixed(1)}s; ${record.files.length} file(s) changed)`
      : `${record.run_id} ${record.status}: ${record.reason} (${record.duration_s.toFixed(1)}s)`;
  const text = [head, ...record.warnings.slice(0, 3).map((w) => `warning: ${w}`)];
  if (record.status !== 'ok' && record.tail) text.push('--- output tail ---', record.tail);
  text.push('next: log-experiment --description "…"');
  emit(f.json, data, text.join('\n'));
});
