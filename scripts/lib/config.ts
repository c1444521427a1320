// Reading and writing config.yaml. Every read validates with the zod Config
// schema and reports the first problem on one line.
import fs from 'node:fs';
import path from 'node:path';
import { Config, type ConfigInput } from './schema.ts';
import { UsageError, zodOneLine } from './errors.ts';
import { writeFileAtomic, writeJsonCache } from './fsx.ts';
import { checksum, SOURCE_KEY } from './source-key.ts';
import { yaml } from './yaml.ts';

export function parseConfig(input: unknown, where: string): Config {
  const r = Config.safeParse(input);
  if (!r.success) throw new UsageError(zodOneLine(where, r.error.issues));
  return r.data;
}

/** Parse a YAML file into a plain object (not yet validated). */
export function readYamlObject(file: string): Record<string, unknown> {
  return yamlObject(file, readText(file));
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${file}: cannot read`);
  }
}

function yamlObject(file: string, text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid YAML (${((e as Error).message.split('\n')[0] ?? '').trim()})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: must be a YAML mapping of config fields`);
  return doc as Record<string, unknown>;
}

/** config.yaml's text as a Config, or null when it is not one (not YAML, not a mapping, a field invalid). */
export function configOfText(text: string): Config | null {
  try {
    return parseConfig(yamlObject('config.yaml', text), 'config.yaml');
  } catch {
    return null;
  }
}

/**
 * config.yaml's parsed fields, kept beside it (config.parsed.json) with the
 * text they came from: every engine call reads the config, and this spares run
 * and log the YAML parser. The copy answers only for that exact text (compared
 * whole: a hash would load node:crypto before the call's first git process,
 * where it can load while git runs); the engine seals it with its other state
 * while the code under test runs (tamper.ts). Written only once the fields are
 * a valid Config (plain JSON values), never fsynced (rebuilt from the YAML).
 *
 * It also holds the validated Config, with a seal: the engine source that
 * validated it (SOURCE_KEY) and a checksum of the text and the Config. A
 * bundle of the same source takes that Config without validating it again
 * (building and running the Config schema was a quarter of the zod CPU of a
 * keep): the same schemas made it from the same text, the checksum refuses a
 * copy damaged or edited by hand, and tamper.ts keeps the code under test
 * from changing it. Any other copy (another engine, no key, a bad seal) has
 * its fields validated as before.
 */
export function parsedConfigFile(configFile: string): string {
  return path.join(path.dirname(configFile), 'config.parsed.json');
}

interface Copy {
  fields: Record<string, unknown>;
  /** The validated Config, when its seal holds for this engine source. */
  config: Config | null;
}

function readCopy(file: string, text: string, source: string | null): Copy | null {
  try {
    const c = JSON.parse(fs.readFileSync(parsedConfigFile(file), 'utf8')) as { text?: unknown; fields?: unknown; config?: unknown; seal?: unknown };
    if (c.text !== text || !c.fields || typeof c.fields !== 'object' || Array.isArray(c.fields)) return null;
    const sealed = source !== null && c.config && typeof c.config === 'object' && c.seal === configSeal(source, text, c.config);
    return { fields: c.fields as Record<string, unknown>, config: sealed ? (c.config as Config) : null };
  } catch {
    return null;
  }
}

/** What binds a validated Config to the engine source that validated it and to the text it came from. */
export function configSeal(source: string, text: string, config: unknown): string {
  return `${source}:${checksum(`${text}\n${JSON.stringify(config)}`)}`;
}

/** config.yaml as a Config; `source` is the engine's (SOURCE_KEY), a parameter for the tests. */
export function loadConfig(file: string, source: string | null = SOURCE_KEY): Config {
  const text = readText(file);
  const copy = readCopy(file, text, source);
  if (copy?.config) return copy.config;
  const fields = copy?.fields ?? yamlObject(file, text);
  const config = parseConfig(fields, 'config.yaml');
  if (!copy || source !== null) {
    try {
      writeJsonCache(parsedConfigFile(file), source === null ? { text, fields } : { text, fields, config, seal: configSeal(source, text, config) });
    } catch {
      // a read-only tree: the next call parses the YAML again
    }
  }
  return config;
}

const HEADER = `# autoloop experiment config. Fields marked (judged) decide what the metric
# means: changing them takes a new segment (run init-experiment again).
# The rest (goal, budgets, health, stop_hook) is read live on every call.
`;

export function saveConfig(file: string, config: Config | ConfigInput): void {
  writeFileAtomic(file, HEADER + yaml().stringify(config, { lineWidth: 0 }));
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
