// init-experiment: create an experiment, or open a new segment of an existing
// one (the only way to change its benchmark or rules; history is never rewritten).
import fs from 'node:fs';
import { z } from 'zod';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { configFieldsFromFlags, parseConfig, readYamlObject, loadConfig } from './lib/config.ts';
import { experimentPaths, repoPaths } from './lib/paths.ts';
import { gitTopLevel } from './lib/experiment.ts';
import { initExperiment } from './lib/init.ts';
import { UsageError } from './lib/errors.ts';
import { Slug } from './lib/schema.ts';
import { parseSourceFlag, SOURCE_FORMS } from './lib/sources/shorthand.ts';

const OPTIONS = {
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
} as const;

const num = z.coerce.number().refine(Number.isFinite, 'must be a number');
// "none" switches a budget off.
const budget = z.union([z.literal('none').transform(() => null), z.coerce.number().int().min(1)]);

const Flags = z.object({
  ...CommonFlags,
  name: Slug.optional(),
  metric: z.string().optional(),
  direction: z.enum(['lower', 'higher']).optional(),
  command: z.string().optional(),
  unit: z.string().optional(),
  goal: z.string().optional(),
  checks: z.string().optional(),
  timeout: num.optional(),
  'checks-timeout': num.optional(),
  grace: num.optional(),
  scope: z.array(z.string()).optional(),
  protect: z.array(z.string()).optional(),
  'max-runs': budget.optional(),
  plateau: budget.optional(),
  target: num.optional(),
  'max-wall-clock': num.optional(),
  repeats: z.union([z.literal('auto'), z.coerce.number().int()]).optional(),
  'min-improvement': z.string().optional(),
  guardrail: z.array(z.string().regex(/^[^:]+:(lower|higher):\d+(\.\d+)?$/, 'must be NAME:lower|higher:PCT')).optional(),
  source: z.array(z.string().min(1, 'must not be empty')).optional(),
  artifacts: z.array(z.string().min(1, 'must not be empty')).optional(),
  'artifacts-max-mb': num.optional(),
  'artifacts-keep': z.coerce.number().int().min(0).optional(),
  config: z.string().optional(),
  reason: z.string().optional(),
});

const HELP = `usage: init-experiment --name SLUG --metric NAME --direction lower|higher --command "CMD"
  [--unit U] [--goal TEXT] [--checks "CMD"] [--timeout SEC] [--checks-timeout SEC] [--grace SEC]
  [--scope GLOB]... [--protect GLOB]... [--max-runs N|none] [--plateau N|none] [--target X]
  [--max-wall-clock SEC] [--repeats N|auto] [--min-improvement X|X%] [--guardrail NAME:DIR:PCT]...
  [--source SPEC]... [--artifacts GLOB]... [--artifacts-max-mb N] [--artifacts-keep N]
  [--config FILE] [--cwd DIR] [--json]
--source: where a metric comes from (default: METRIC lines), one per source: ${SOURCE_FORMS.join(' | ')}
Running it again on an existing experiment opens a new segment.`;

/** Flag values as config fields (only the flags that were given). */
function flagsToConfig(f: z.infer<typeof Flags>): Record<string, unknown> {
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
    set(
      'guardrails',
      f.guardrail.map((g) => {
        const [metric, direction, p] = g.split(':');
        return { metric, direction, max_regression_pct: Number(p) };
      }),
    );
  }
  return out;
}

/** One line: what the loop may change and what judges it. */
function filesLine(out: { scope: string[]; mutable: string[]; protect: string[] }): string {
  const listed = out.mutable.filter((m) => out.scope.includes(m));
  const globbed = out.mutable.filter((m) => !out.scope.includes(m));
  const notes = [
    ...(listed.length ? [`${listed.length === out.mutable.length && listed.length === out.scope.length ? '' : `${listed.join(' ')}: `}run by the commands`] : []),
    ...(globbed.length ? [`incl. ${globbed.join(' ')}, run by the commands`] : []),
  ];
  const judges = out.protect.length ? out.protect.join(' ') : 'none found in the commands; add --protect';
  return `mutable: ${out.scope.join(' ')}${notes.length ? ` (${notes.join('; ')})` : ''} · protected (never edit): ${judges}`;
}

main('init-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write(HELP + '\n');
  const cwd = resolveCwd(f.cwd);
  const root = gitTopLevel(cwd) ?? cwd;

  const fromFile = f.config ? readYamlObject(f.config) : {};
  const slug = (f.name ?? fromFile.name) as string | undefined;
  if (!slug) throw new UsageError('--name is required (or name: in --config)');
  if (!Slug.safeParse(slug).success) throw new UsageError(`--name: "${slug}" must be lower-case letters, digits and dashes`);
  const paths = experimentPaths(root, slug);
  const existing = fs.existsSync(paths.config) ? loadConfig(paths.config) : {};
  const merged: Record<string, unknown> = { ...existing, ...fromFile, ...flagsToConfig(f), name: slug };
  for (const k of ['metric', 'direction', 'command'] as const) {
    if (merged[k] === undefined) throw new UsageError(`--${k} is required for a new experiment`);
  }
  const config = parseConfig(merged, 'config');
  if (config.checks !== null && config.checks.trim() === '') throw new UsageError('--checks must not be empty');

  const out = await initExperiment(root, config, { reason: f.reason });
  // A new experiment starts unowned: a session left over from an earlier loop
  // must neither escape the guards nor be pushed on by the Stop hook.
  if (out.segment === 1) fs.rmSync(repoPaths(root).session, { force: true });

  emit(
    f.json,
    out,
    [
      `experiment ${slug} ready (segment ${out.segment}, ${out.mode} mode${out.branch ? `, branch ${out.branch}` : ''})`,
      filesLine(out),
      ...out.warnings.map((w) => `warning: ${w}`),
      `next: run-experiment for the baseline, then log-experiment --description baseline`,
    ].join('\n'),
  );
});
