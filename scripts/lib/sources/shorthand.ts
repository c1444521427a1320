// `--source` values: a short form per kind, or a whole spec as a YAML/JSON
// mapping (`{kind: regex, metric: m, pattern: '…', pick: min}`) for the
// options the short forms leave out. Validated by the config's own schema.
import { yaml } from '../yaml.ts';
import { UsageError, zodOneLine } from '../errors.ts';
import { SourceSpec } from './spec.ts';

export const SOURCE_FORMS = [
  'metric-lines',
  'regex:METRIC=PATTERN',
  'json:FILE:METRIC=PATH[,METRIC=PATH]…',
  'csv:FILE:METRIC=COLUMN[,METRIC=COLUMN]…',
  'tensorboard:DIR:METRIC=TAG',
  'junit:FILE',
  'coverage:FILE',
  'hyperfine:FILE:METRIC',
  'google-benchmark:FILE:METRIC',
  'pytest-benchmark:FILE:METRIC',
  '{kind: …, …} (YAML/JSON)',
] as const;

/** Split at the first `sep`; null when there is none. */
function cut(s: string, sep: string): [string, string] | null {
  const i = s.indexOf(sep);
  return i < 0 ? null : [s.slice(0, i), s.slice(i + sep.length)];
}

/** Split at the last `sep` (file names come first and may hold the separator; metric names cannot). */
function cutLast(s: string, sep: string): [string, string] | null {
  const i = s.lastIndexOf(sep);
  return i < 0 ? null : [s.slice(0, i), s.slice(i + sep.length)];
}

function shortForm(kind: string, rest: string): Record<string, unknown> | string {
  switch (kind) {
    case 'metric-lines':
      return rest === '' ? { kind } : 'takes nothing after "metric-lines"';
    case 'regex': {
      const p = cut(rest, '=');
      return p ? { kind, metric: p[0], pattern: p[1] } : 'must be regex:METRIC=PATTERN';
    }
    case 'json':
    case 'csv': {
      const what = kind === 'json' ? 'PATH' : 'COLUMN';
      const p = cut(rest, ':');
      if (!p) return `must be ${kind}:FILE:METRIC=${what}[,METRIC=${what}]`;
      const metrics: Record<string, string> = {};
      for (const pair of p[1].split(',')) {
        const kv = cut(pair, '=');
        if (!kv) return `"${pair}" must be METRIC=${what}`;
        metrics[kv[0]] = kv[1];
      }
      return { kind, file: p[0], metrics };
    }
    case 'tensorboard': {
      const p = cut(rest, ':');
      const kv = p ? cut(p[1], '=') : null;
      return p && kv ? { kind, dir: p[0], metric: kv[0], tag: kv[1] } : 'must be tensorboard:DIR:METRIC=TAG';
    }
    case 'junit':
    case 'coverage':
      return { kind, file: rest };
    case 'hyperfine':
    case 'google-benchmark':
    case 'pytest-benchmark': {
      const p = cutLast(rest, ':');
      return p ? { kind, file: p[0], metric: p[1] } : `must be ${kind}:FILE:METRIC`;
    }
    default:
      return `unknown source kind "${kind}" (one of: ${SOURCE_FORMS.map((f) => f.split(':')[0]).slice(0, -1).join(', ')})`;
  }
}

/** One `--source` value as a validated spec; a UsageError naming the value otherwise. */
export function parseSourceFlag(value: string): SourceSpec {
  const text = value.trim();
  const where = `--source ${JSON.stringify(text.length > 60 ? `${text.slice(0, 59)}…` : text)}`;
  let raw: unknown;
  if (text.startsWith('{')) {
    try {
      raw = yaml().parse(text);
    } catch (e) {
      throw new UsageError(`${where}: not a valid YAML/JSON mapping (${((e as Error).message.split('\n')[0] ?? '').trim()})`);
    }
  } else {
    const [kind, rest] = cut(text, ':') ?? [text, ''];
    const r = shortForm(kind, rest);
    if (typeof r === 'string') throw new UsageError(`${where}: ${r}`);
    raw = r;
  }
  const r = SourceSpec.safeParse(raw);
  if (!r.success) throw new UsageError(zodOneLine(where, r.error.issues));
  return r.data;
}
