// The diagnose command: run the experiment's own benchmark (or checks) once or a
// few times, outside the ledger, optionally under a profiler from a fixed list,
// with every output file in the experiment's scratch area. It is how the model
// times, profiles and tries the judges without running arbitrary commands: the
// hooks approve it as an engine call. Nothing is measured for the verdict,
// nothing is logged, nothing in the tree is kept or reverted.
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { event, findRoot, openExperiment, resolveSlug, withLock } from '../experiment.ts';
import { protectedPaths } from '../run-guard.ts';
import { breakSeal, seal } from '../tamper.ts';
import { openGitPhase } from '../git-files-journal.ts';
import { restoreJudges } from '../integrity.ts';
import { openWorkspace } from '../workspace.ts';
import { writeSummaries } from '../profile-summary.ts';
import { runnerFor } from '../runners/index.ts';
import { buildSources, readSample, stampFiles } from '../sources/index.ts';
import { UsageError } from '../errors.ts';

export const DIAGNOSE_OPTIONS = {
  experiment: { type: 'string' },
  checks: { type: 'boolean' },
  repeat: { type: 'string' },
  profile: { type: 'string' },
} as const;

// Node refuses --cpu-prof in NODE_OPTIONS, so every Node process of the
// benchmark preloads this: it profiles through the inspector and writes the
// profile into the scratch area when the process exits.
const NODE_PRELOAD = `const { Session } = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');
const heap = process.env.AUTOLOOP_PROFILE_KIND === 'heap';
const s = new Session();
s.connect();
s.post(heap ? 'HeapProfiler.enable' : 'Profiler.enable');
s.post(heap ? 'HeapProfiler.startSampling' : 'Profiler.start');
process.on('exit', () => {
  s.post(heap ? 'HeapProfiler.stopSampling' : 'Profiler.stop', (err, r) => {
    if (!err) fs.writeFileSync(path.join(process.env.AUTOLOOP_PROFILE_DIR, (heap ? 'Heap.' : 'CPU.') + process.pid + (heap ? '.heapprofile' : '.cpuprofile')), JSON.stringify(r.profile));
  });
});
`;

// Loaded by every Python process of the benchmark (sitecustomize on PYTHONPATH).
const PY_SITECUSTOMIZE = `import atexit, cProfile, os
_p = cProfile.Profile()
_p.enable()
def _dump():
    _p.disable()
    _p.dump_stats(os.path.join(os.environ["AUTOLOOP_PROFILE_DIR"], "py-%d.prof" % os.getpid()))
atexit.register(_dump)
`;

/** Profilers the hooks may approve: each writes a helper into the run's scratch directory and sets variables for the benchmark's own processes. */
const PROFILES = {
  'node-cpu': (dir: string) => nodeProfile(dir, 'cpu'),
  'node-heap': (dir: string) => nodeProfile(dir, 'heap'),
  'py-cpu': (dir: string) => {
    fs.writeFileSync(path.join(dir, 'sitecustomize.py'), PY_SITECUSTOMIZE);
    return { PYTHONPATH: [dir, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), AUTOLOOP_PROFILE_DIR: dir };
  },
} as const;
const HELPERS = new Set(['output.log', 'sitecustomize.py', 'profile-preload.cjs']);

function nodeProfile(dir: string, kind: 'cpu' | 'heap'): Record<string, string> {
  const preload = path.join(dir, 'profile-preload.cjs');
  fs.writeFileSync(preload, NODE_PRELOAD);
  const prior = process.env.NODE_OPTIONS ? ` ${process.env.NODE_OPTIONS}` : '';
  return { NODE_OPTIONS: `--require="${preload}"${prior}`, AUTOLOOP_PROFILE_DIR: dir, AUTOLOOP_PROFILE_KIND: kind };
}

export const DiagnoseFlags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  checks: z._default(z.boolean(), false),
  repeat: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(5)), 1),
  profile: z.optional(z.enum(Object.keys(PROFILES) as [keyof typeof PROFILES, ...(keyof typeof PROFILES)[]])),
});

export const DIAGNOSE_HELP = `usage: diagnose [--checks] [--repeat N (1-5)] [--profile ${Object.keys(PROFILES).join('|')}] [--experiment SLUG] [--cwd DIR] [--json]
Runs the experiment's benchmark (or, with --checks, its checks) as configured, outside the ledger.
Output and profiles go to .autoloop/experiments/<slug>/scratch/diagnose-<time>/.`;

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Run the benchmark (or the checks) f.repeat times under the lock; what each run printed and measured. */
export async function diagnoseCommand(f: z.infer<typeof DiagnoseFlags>): Promise<{ data: unknown; text: string }> {
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const { config } = exp;
  const command = f.checks ? config.checks : config.command;
  if (!command) throw new UsageError('this experiment has no checks command');
  const dir = path.join(exp.paths.dir, 'scratch', `diagnose-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(dir, { recursive: true });
  const env: Record<string, string> = f.profile ? PROFILES[f.profile](dir) : {};
  const log = path.join(dir, 'output.log');

  const runs = await withLock(exp, 'diagnose', async () => {
    const ws = await openWorkspace(root, exp.paths, config);
    const out = [];
    const sources = buildSources(config.sources);
    const judges = Object.keys(exp.state.fingerprints?.files ?? {});
    for (let i = 1; i <= f.repeat; i++) {
      const before = await stampFiles(sources, root);
      const startedAtMs = Date.now();
      // The code under test runs here as in a run: the engine's state and the judges read-only where the
      // machine allows, and sealed around the command (a forged ledger line is cut off, a judge put back).
      const sealed = seal(exp.paths, root, judges.map((j) => path.join(root, j)));
      // And git's files, as for a run (git-files-journal.ts): one left unreadable or forged would fail or fool every later call.
      const gitPhase = openGitPhase(root, root, ws.mode === 'git' ? `autoloop/${exp.paths.slug}` : null);
      const o = await runnerFor(config).run({
        command,
        cwd: root,
        env: { ...(process.env as Record<string, string>), ...env, AUTOLOOP_DIAGNOSE: String(i) },
        timeoutS: f.checks ? config.checks_timeout : config.timeout,
        graceS: config.grace,
        logFile: log,
        header: `== diagnose ${i}: ${command}`,
        protect: protectedPaths(exp, root, root),
      });
      const git = gitPhase ? await gitPhase.settle() : { unreadable: [], forged: [] };
      const tampered = [...new Set([...breakSeal(sealed, root), ...restoreJudges(root, exp.paths.judges, judges), ...git.unreadable, ...git.forged])].sort();
      if (tampered.length) {
        event(exp, 'tamper', { during: 'diagnose', files: tampered });
        throw new UsageError(`the ${f.checks ? 'checks' : 'benchmark'} changed the engine's state or a judge while diagnose ran: ${tampered.slice(0, 3).join(', ')} (put back)`);
      }
      if (o.configError) throw new UsageError(`not run: ${o.configError}; fix the runner's settings in config.yaml`);
      const reading = await readSample(sources, { cwd: root, log: { file: log, ...o.log }, startedAtMs, before });
      out.push({ exit: o.exitCode, signal: o.signal, timed_out: o.timedOut, duration_s: round(o.durationS), metrics: reading.metrics, tail: o.tail });
      if (o.survivors.length) throw new UsageError(`processes survived the diagnose run (pids ${o.survivors.join(', ')}); run control.mjs repair`);
    }
    // Files the benchmark wrote outside the scope must not count against the next run.
    if (ws.mode === 'git') await ws.settleOutOfScope();
    return out;
  });

  const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/');
  // Each profile's top functions as text: what the model reads instead of the profile itself.
  const summaries = f.profile ? writeSummaries(dir) : [];
  const files = fs.readdirSync(dir).filter((n) => !HELPERS.has(n)).sort();
  const last = runs[runs.length - 1]!;
  const data = { command, runs: runs.map(({ tail: _t, ...r }) => r), tail: last.tail.split('\n').slice(-15).join('\n'), log: rel(log), dir: rel(dir), files, summaries: summaries.map((n) => rel(path.join(dir, n))) };
  const lines = runs.map((r, i) => `#${i + 1} exit ${r.exit ?? r.signal}${r.timed_out ? ' (timed out)' : ''} in ${r.duration_s}s ${Object.entries(r.metrics).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return { data, text: [`diagnose: ${command}`, ...lines, `output: ${rel(log)}`, ...(files.length ? [`profiles: ${files.length} file(s) in ${rel(dir)}`] : []), ...summaryLines(summaries.map((n) => rel(path.join(dir, n))))].join('\n') };
}

/** The summaries to read, a few named and the rest counted (one per process the benchmark started). */
function summaryLines(paths: readonly string[]): string[] {
  if (!paths.length) return [];
  const shown = paths.slice(0, 3);
  return [`top functions: ${shown.join(' ')}${paths.length > shown.length ? ` (+${paths.length - shown.length} more)` : ''}`];
}
