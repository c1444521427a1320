// The init-experiment command: its flags, and creating an experiment or opening
// a new segment of an existing one (the only way to change its benchmark or
// rules; history is never rewritten).
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { countOrNone, minImprovementFlag, numberFlag, isOneLine, oneLine, repeatsFlag, unitFlag, wholeFlag } from '../flag-values.ts';
import { unreachableMinimum } from '../sampling.ts';
import { GuardrailFlag, guardrailFromFlag } from '../guardrail-flag.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { configFieldsFromFlags, parseConfig, readYamlObject, loadConfig } from '../config.ts';
import { experimentPaths, repoPaths } from '../paths.ts';
import { gitTopLevel, openExperiment } from '../experiment.ts';
import { termination } from '../reduce.ts';
import { initExperiment } from '../init.ts';
import { trackedFiles } from '../tracked-files.ts';
import { unguardedCommandDirs } from '../integrity.ts';
import { makeGoalWarnings } from '../make-goals.ts';
import { UsageError } from '../errors.ts';
import { Slug } from '../schema.ts';
import { parseSourceFlag, SOURCE_FORMS } from '../sources/shorthand.ts';
import { directionWarnings, unitWarnings } from '../sources/index.ts';
import { runnerFor } from '../runners/index.ts';
import { assertGlobsInRepo, assertScopeLeftMutable, assertSourcesUntracked, checkCommandsFrom, eolConverted, eolRefusal, eolWarnings, protectWarnings, scopeWarnings } from '../scope-check.ts';
import { clearSession } from '../session-lock.ts';

export const INIT_OPTIONS = {
  name: { type: 'string' },
  metric: { type: 'string' },
  direction: { type: 'string' },
  command: { type: 'string' },
  unit: { type: 'string' },
  goal: { type: 'string' },
  checks: { type: 'string' },
  timeout: { type: 'string' },
  'checks-timeout': { type: 'string' },
  grace: { type: 'string' },
  scope: { type: 'string', multiple: true },
  protect: { type: 'string', multiple: true },
  'max-runs': { type: 'string' },
  plateau: { type: 'string' },
  target: { type: 'string' },
  'max-wall-clock': { type: 'string' },
  repeats: { type: 'string' },
  'min-improvement': { type: 'string' },
  guardrail: { type: 'string', multiple: true },
  source: { type: 'string', multiple: true },
  artifacts: { type: 'string', multiple: true },
  'artifacts-max-mb': { type: 'string' },
  'artifacts-keep': { type: 'string' },
  config: { type: 'string' },
  reason: { type: 'string' },
  parallel: { type: 'string' },
  'parallel-timing': { type: 'string' },
  runner: { type: 'string' },
  'slurm-partition': { type: 'string' },
  'slurm-time': { type: 'string' },
  'slurm-cpus': { type: 'string' },
  'slurm-mem': { type: 'string' },
  'slurm-gres': { type: 'string' },
  'slurm-arg': { type: 'string', multiple: true },
  'slurm-max-requeues': { type: 'string' },
  'slurm-max-queue-wait': { type: 'string' },
} as const;


export const InitFlags = z.object({
  ...CommonFlags,
  name: z.optional(Slug),
  metric: z.optional(z.string()),
  direction: z.optional(z.enum(['lower', 'higher'])),
  command: z.optional(z.string()),
  unit: z.optional(unitFlag),
  goal: z.optional(z.string().check(oneLine())),
  checks: z.optional(z.string()),
  timeout: z.optional(numberFlag),
  'checks-timeout': z.optional(numberFlag),
  grace: z.optional(numberFlag),
  scope: z.optional(z.array(z.string())),
  protect: z.optional(z.array(z.string())),
  'max-runs': z.optional(countOrNone),
  plateau: z.optional(countOrNone),
  target: z.optional(numberFlag),
  'max-wall-clock': z.optional(numberFlag),
  repeats: z.optional(repeatsFlag),
  'min-improvement': z.optional(minImprovementFlag),
  guardrail: z.optional(z.array(GuardrailFlag)),
  source: z.optional(z.array(z.string().check(z.minLength(1, 'must not be empty')))),
  artifacts: z.optional(z.array(z.string().check(z.minLength(1, 'must not be empty')))),
  'artifacts-max-mb': z.optional(numberFlag),
  'artifacts-keep': z.optional(wholeFlag(0)),
  config: z.optional(z.string()),
  reason: z.optional(z.string()),
  parallel: z.optional(z.coerce.number().check(z.int())),
  'parallel-timing': z.optional(z.enum(['auto', 'serial', 'parallel'])),
  runner: z.optional(z.string()),
  'slurm-partition': z.optional(z.string()),
  'slurm-time': z.optional(z.string()),
  'slurm-cpus': z.optional(z.coerce.number().check(z.int())),
  'slurm-mem': z.optional(z.string()),
  'slurm-gres': z.optional(z.string()),
  'slurm-arg': z.optional(z.array(z.string())),
  'slurm-max-requeues': z.optional(z.coerce.number().check(z.int())),
  'slurm-max-queue-wait': z.optional(numberFlag),
});

export type InitFlagValues = z.infer<typeof InitFlags>;

export const INIT_HELP = `usage: init-experiment --name SLUG --metric NAME --direction lower|higher --command "CMD"
  [--unit U] [--goal TEXT] [--checks "CMD"] [--timeout SEC] [--checks-timeout SEC] [--grace SEC]
  [--scope GLOB]... [--protect GLOB]... [--max-runs N|none] [--plateau N|none] [--target X]
  [--max-wall-clock SEC] [--repeats N|auto] [--min-improvement X|X%] [--guardrail NAME:DIR:PCT|abs=X|limit=X]...
  [--source SPEC]... [--artifacts GLOB]... [--artifacts-max-mb N] [--artifacts-keep N]
  [--parallel N] [--parallel-timing auto|serial|parallel]
  [--runner local|slurm] [--slurm-partition P] [--slurm-time T] [--slurm-cpus N] [--slurm-mem M]
  [--slurm-gres G] [--slurm-arg=ARG]... [--slurm-max-requeues N] [--slurm-max-queue-wait SEC]
  [--config FILE] [--cwd DIR] [--json]
--source: where a metric comes from (default: METRIC lines), one per source: ${SOURCE_FORMS.join(' | ')}
Running it again on an existing experiment opens a new segment.`;

/** Flag values as config fields (only the flags that were given). */
function flagsToConfig(f: InitFlagValues): Record<string, unknown> {
  const out = configFieldsFromFlags({ ...f, 'min-improvement': undefined, guardrail: undefined, source: undefined });
  if (f.source) out.sources = f.source.map(parseSourceFlag);
  const set = (k: string, v: unknown) => {
    if (v !== undefined) out[k] = v;
  };
  if (f['min-improvement'] !== undefined) {
    const m = f['min-improvement'];
    set('min_improvement', m.endsWith('%') ? m : Number(m));
  }
  if (f.guardrail) {
    set('guardrails', f.guardrail.map(guardrailFromFlag));
  }
  const slurm = slurmFromFlags(f);
  if (slurm) set('slurm', slurm);
  return out;
}

/** Is there something at this repository path (a dangling link counts)? */
function present(root: string, rel: string): boolean {
  try {
    fs.lstatSync(path.join(root, rel));
    return true;
  } catch {
    return false;
  }
}

/** The judges there by name, and how many are absent (shadow names, guarded all the same). */
function splitJudges(root: string, protect: string[]): { there: string[]; absent: number } {
  const there = protect.filter((p) => present(root, p));
  return { there, absent: protect.length - there.length };
}

/**
 * The judges as the line names them: the files there by name, the absent ones
 * (the names a file would take to shadow what a Python or Node judge imports,
 * dozens for one judge, or a GNUmakefile, an .npmrc) by their count only. They
 * stay judges, refused by the hooks and the engine alike; naming them cost the
 * reader's context and made files that do not exist look like the user's.
 */
export function judgesText(root: string, protect: string[]): string {
  if (!protect.length) return 'none found in the commands; add --protect';
  const { there, absent } = splitJudges(root, protect);
  if (!absent) return there.join(' ');
  const rest = `${absent} absent path${absent === 1 ? '' : 's'} that must not be created (a file there would take the place of what a judge runs or imports)`;
  return there.length ? `${there.join(' ')}, and ${rest}` : rest;
}

/** One line: what the loop may change and what judges it. */
function filesLine(root: string, out: { scope: string[]; mutable: string[]; protect: string[] }): string {
  const listed = out.mutable.filter((m) => out.scope.includes(m));
  const globbed = out.mutable.filter((m) => !out.scope.includes(m));
  const notes = [
    ...(listed.length ? [`${listed.length === out.mutable.length && listed.length === out.scope.length ? '' : `${listed.join(' ')}: `}run by the commands`] : []),
    ...(globbed.length ? [`incl. ${globbed.join(' ')}, run by the commands`] : []),
  ];
  const judges = judgesText(root, out.protect);
  return `mutable: ${out.scope.join(' ')}${notes.length ? ` (${notes.join('; ')})` : ''} · protected (never edit): ${judges}`;
}

/** The --slurm-* flags as the config's slurm block (only those given); null when none was. */
function slurmFromFlags(f: InitFlagValues): Record<string, unknown> | null {
  const block: Record<string, unknown> = {};
  const pairs: [string, unknown][] = [
    ['partition', f['slurm-partition']],
    ['time', f['slurm-time']],
    ['cpus', f['slurm-cpus']],
    ['mem', f['slurm-mem']],
    ['gres', f['slurm-gres']],
    ['sbatch_args', f['slurm-arg']],
    ['max_requeues', f['slurm-max-requeues']],
    ['max_queue_wait_s', f['slurm-max-queue-wait']],
  ];
  for (const [k, v] of pairs) if (v !== undefined) block[k] = v;
  return Object.keys(block).length ? block : null;
}

/** --config as if the command ran in --cwd (the calling convention); a file found only from where it was called still works. */
function configPath(cwd: string, file: string): string {
  const there = path.resolve(cwd, file);
  return fs.existsSync(there) || !fs.existsSync(file) ? there : file;
}

/** Create the experiment named by the flags (and --config), or open its next segment. */
export async function initCommand(f: InitFlagValues): Promise<{ data: unknown; text: string }> {
  const cwd = resolveCwd(f.cwd);
  const top = gitTopLevel(cwd);
  const root = top ?? cwd;
  // The paths git tracks, listed once for every question below (none changes the index before the checkout).
  const tracked = top !== null ? trackedFiles(root) : null;

  const fromFile = f.config ? readYamlObject(configPath(cwd, f.config)) : {};
  if (typeof fromFile.unit === 'string' && !isOneLine(fromFile.unit)) throw new UsageError('--config: unit: must be one line without control characters');
  const slug = (f.name ?? fromFile.name) as string | undefined;
  if (!slug) throw new UsageError('--name is required (or name: in --config)');
  if (!Slug.safeParse(slug).success) throw new UsageError(`--name: "${slug}" must be lower-case letters, digits and dashes`);
  const paths = experimentPaths(root, slug);
  const existing = fs.existsSync(paths.config) ? loadConfig(paths.config) : {};
  const flagged = flagsToConfig(f);
  // --slurm-* flags refine the slurm block of the file or the existing config, field by field.
  if (flagged.slurm) flagged.slurm = { ...((existing as Record<string, unknown>).slurm as object), ...(fromFile.slurm as object), ...(flagged.slurm as object) };
  const merged: Record<string, unknown> = { ...existing, ...fromFile, ...flagged, name: slug };
  for (const k of ['metric', 'direction', 'command'] as const) {
    if (merged[k] === undefined) throw new UsageError(`--${k} is required for a new experiment`);
  }
  const config = parseConfig(merged, 'config');
  runnerFor(config); // an unknown runner is refused now, not at the first run
  if (config.checks !== null && config.checks.trim() === '') throw new UsageError('--checks must not be empty');

  assertGlobsInRepo(config);
  if (top !== null) assertSourcesUntracked(root, config);
  assertScopeLeftMutable(root, config);
  const unreachable = unreachableMinimum(config.direction, config.min_improvement);
  const crlf = tracked ? eolConverted(root, config.scope, tracked) : [];
  const notes = [
    ...scopeWarnings(root, cwd, config.scope, tracked),
    ...protectWarnings(root, config.protect),
    ...eolWarnings(crlf),
    ...unguardedCommandDirs(root, config).map((d) => `the commands name ${d}/ and the scope is the whole repository, so its files are mutable: --protect '${d}/**' if they judge the metric (tests, data), or narrow --scope`),
    ...makeGoalWarnings(root, config),
    ...(unreachable ? [unreachable] : []),
    ...directionWarnings(config),
    ...unitWarnings(config),
  ];
  checkCommandsFrom(root, cwd, [f.command, f.checks]);
  const out = await initExperiment(root, config, { reason: f.reason, top: top ?? undefined, tracked: tracked ?? undefined }).catch((e: unknown) => {
    throw eolRefusal(e, crlf);
  });
  // Runs and wall clock count over the whole experiment: a new segment can open already past them.
  if (out.segment > 1) {
    const t = termination(openExperiment(root, slug).state, config, Date.now());
    if (t.terminate) notes.push(`the new segment opens ${t.message}: runs and wall clock count over the whole experiment; raise max_runs or max_wall_clock in config.yaml`);
  }
  // A new experiment starts unowned: a session left over from an earlier loop
  // must neither escape the guards nor be pushed on by the Stop hook.
  if (out.segment === 1) clearSession(repoPaths(root).session);
  const judges = splitJudges(root, out.protect);

  return {
    // The JSON the setup skill reads names the same: the full list is in active.json for the hooks.
    data: { ...out, protect: judges.there, protect_absent: judges.absent, warnings: [...notes, ...out.warnings] },
    text: [
      `experiment ${slug} ready (segment ${out.segment}, ${out.mode} mode${out.branch ? `, branch ${out.branch}` : ''})`,
      filesLine(root, out),
      ...[...notes, ...out.warnings].map((w) => `warning: ${w}`),
      `next: run-experiment for the baseline, then log-experiment --description baseline`,
    ].join('\n'),
  };
}
