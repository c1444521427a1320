// An example's demo.yaml: the init-experiment flags, and the story the demo
// must tell (the verdict of each scripted step, and how the loop ends).
// The repository itself is every other file of examples/<name>/.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from '../lib/zod.ts';
import { UsageError, zodOneLine } from '../lib/errors.ts';
import { Slug, TerminatedBy, Verdict } from '../lib/schema.ts';

/** Files of examples/<name>/ that drive the demo and are not part of the example's repository. */
export const DEMO_ONLY = ['demo.yaml', 'steps'];

const FlagValue = z.union([z.string(), z.number(), z.array(z.string()).check(z.minLength(1))]);

const DemoSpec = z.strictObject({
  /** Message of the repository's first commit. */
  commit: z.string().check(z.minLength(1)),
  /** One line said before init, for people. */
  headline: z.string().check(z.minLength(1)),
  /** init-experiment flags without the dashes; a list repeats the flag. */
  init: z.record(z.string().check(z.regex(/^[a-z][a-z-]*$/, 'flag names are lower-case words joined by dashes')), FlagValue),
  /**
   * The verdict each step must get, in order: baseline first, then one per steps/<step>.patch.
   * `artifacts: restored`: the run leaves artifacts of its own, and after the verdict the tree
   * holds the best run's kept copies again (init needs `artifacts`).
   */
  story: z.array(z.strictObject({ step: z.string().check(z.regex(/^[\w.-]+$/)), verdict: Verdict, artifacts: z.optional(z.literal('restored')) })).check(z.minLength(2)),
  /** How the loop must end, right after the last step. */
  terminated_by: TerminatedBy,
});
export type DemoSpec = z.infer<typeof DemoSpec>;

export interface DemoStep {
  name: string;
  /** The patch's first line, or "baseline". */
  description: string;
  /** Absolute path of the patch; null for the baseline. */
  patch: string | null;
  expect: Verdict;
  /** The step must show the best's artifacts put back after its verdict. */
  artifactsRestored: boolean;
}

export interface Example {
  name: string;
  dir: string;
  spec: DemoSpec;
  experiment: string;
  steps: DemoStep[];
}

export function examplesRoot(root: string): string {
  return path.join(root, 'examples');
}

/** Names of the examples that have a demo.yaml, sorted. */
export function listExamples(root: string): string[] {
  const dir = examplesRoot(root);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'demo.yaml')))
    .map((d) => d.name)
    .sort();
}

/** init-experiment's argv from the spec's flags. */
export function initArgs(init: DemoSpec['init']): string[] {
  const out: string[] = [];
  for (const [flag, value] of Object.entries(init)) {
    for (const v of Array.isArray(value) ? value : [value]) out.push(`--${flag}`, String(v));
  }
  return out;
}

/** Load and cross-check an example: every patch has a place in the story and every story step a patch. */
export function loadExample(root: string, name: string): Example {
  const known = listExamples(root);
  if (!known.includes(name)) throw new UsageError(`unknown example ${JSON.stringify(name)}; choose one of: ${known.join(', ')}`);
  const dir = path.join(examplesRoot(root), name);
  const file = path.join(dir, 'demo.yaml');
  const parsed = DemoSpec.safeParse(parseYaml(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new UsageError(zodOneLine(`examples/${name}/demo.yaml`, parsed.error.issues));
  }
  const spec = parsed.data;
  const experiment = Slug.safeParse(spec.init.name);
  if (!experiment.success) throw new UsageError(`examples/${name}/demo.yaml: init.name must be the experiment's slug`);
  const stepsDir = path.join(dir, 'steps');
  const patches = fs.existsSync(stepsDir) ? fs.readdirSync(stepsDir).filter((f) => f.endsWith('.patch')).sort() : [];
  const wanted = ['baseline', ...patches.map((f) => f.replace(/\.patch$/, ''))];
  const told = spec.story.map((s) => s.step);
  if (wanted.join('\n') !== told.join('\n')) {
    throw new UsageError(`examples/${name}/demo.yaml: story steps (${told.join(', ')}) must be baseline then the patches in steps/ in order (${wanted.slice(1).join(', ')})`);
  }
  if (spec.story.some((s) => s.artifacts) && spec.init.artifacts === undefined) {
    throw new UsageError(`examples/${name}/demo.yaml: a step expects artifacts restored, but init has no artifacts`);
  }
  const steps = spec.story.map((s): DemoStep => {
    const artifactsRestored = s.artifacts === 'restored';
    if (s.step === 'baseline') return { name: s.step, description: 'baseline', patch: null, expect: s.verdict, artifactsRestored };
    const patch = path.join(stepsDir, `${s.step}.patch`);
    const first = fs.readFileSync(patch, 'utf8').split('\n')[0]?.trim();
    return { name: s.step, description: first || s.step, patch, expect: s.verdict, artifactsRestored };
  });
  return { name, dir, spec, experiment: experiment.data, steps };
}
