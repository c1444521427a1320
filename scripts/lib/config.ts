// Reading and writing config.yaml. Every read validates with the zod Config
// schema and reports the first problem on one line.
import fs from 'node:fs';
import YAML from 'yaml';
import { Config, type ConfigInput } from './schema.ts';
import { UsageError, zodOneLine } from './errors.ts';
import { writeFileAtomic } from './fsx.ts';

export function parseConfig(input: unknown, where: string): Config {
  const r = Config.safeParse(input);
  if (!r.success) throw new UsageError(zodOneLine(where, r.error.issues));
  return r.data;
}

/** Parse a YAML file into a plain object (not yet validated). */
export function readYamlObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${file}: cannot read`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid YAML (${((e as Error).message.split('\n')[0] ?? '').trim()})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: must be a YAML mapping of config fields`);
  return doc as Record<string, unknown>;
}

export function loadConfig(file: string): Config {
  return parseConfig(readYamlObject(file), 'config.yaml');
}

const HEADER = `# autoloop experiment config. Fields marked (judged) decide what the metric
# means: changing them takes a new segment (run init-experiment again).
# The rest (goal, budgets, health, stop_hook) is read live on every call.
`;

export function saveConfig(file: string, config: Config | ConfigInput): void {
  writeFileAtomic(file, HEADER + YAML.stringify(config, { lineWidth: 0 }));
}

/**
 * The flags that name a config field (kebab-case, e.g. --max-runs → max_runs),
 * as config fields. Flags that were not given, or name no field, are left out.
 */
export function configFieldsFromFlags(flags: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(flags)) {
    const field = flag.replace(/-/g, '_');
    if (value !== undefined && Object.hasOwn(Config.shape, field)) out[field] = value;
  }
  return out;
}
