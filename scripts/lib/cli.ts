// Shared plumbing for the entry points: flag parsing (node:util parseArgs,
// then zod), --cwd / --json, and the exit-code contract:
//   0 success, 2 bad usage or input (one line, no stack), 1 anything else.
import path from 'node:path';
import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as z from './zod.ts';
import { RefusalError, UsageError, zodOneLine } from './errors.ts';
import { cut, roundForModel } from './format.ts';
import { safeJson, sanitize, sanitizeLine } from './sanitize.ts';
import { handedOver } from './boot/hold.ts';
import { isDiskFull } from './disk-space.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  cwd: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/** The zod shape of COMMON_OPTIONS, spread into each entry point's flag schema. */
export const CommonFlags = {
  cwd: z.optional(z.string()),
  json: z.boolean(),
  help: z.boolean(),
};

/** Parse argv with node's parser, then validate the values with a zod schema. */
export function parseFlags<S extends z.ZodMiniType>(
  argv: readonly string[],
  options: Options,
  schema: S,
  opts: { positionals?: boolean } = {},
): { values: z.infer<S>; positionals: string[] } {
  const all: Options = { ...COMMON_OPTIONS, ...options };
  let parsed: { values: Record<string, unknown>; positionals: string[]; tokens: ParsedToken[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: all,
      allowPositionals: opts.positionals ?? false,
      strict: true,
      tokens: true,
    }) as unknown as typeof parsed;
  } catch (e) {
    // parseArgs messages are one readable sentence, but for a value that starts
    // with '-' its fix is on a later line: both go on the one line.
    const lines = (e as Error).message.split('\n');
    const fix = lines.find((l) => l.startsWith('To specify an option argument starting with a dash'));
    throw new UsageError(fix ? `${lines[0]} ${fix}` : firstLine((e as Error).message));
  }
  refuseRepeats(parsed.tokens, all);
  const result = schema.safeParse(parsed.values);
  if (!result.success) throw new UsageError(zodOneLine('bad flag', flagIssues(result.error.issues)));
  return { values: result.data as z.infer<S>, positionals: parsed.positionals };
}

type ParsedToken = { kind: string; name?: string; value?: string };

/**
 * node's parser keeps the last of a repeated single-valued flag: `--metric a
 * --metric b` would measure b without a word. A flag meant to repeat says
 * `multiple`; a boolean given twice says the same thing twice.
 */
function refuseRepeats(tokens: readonly ParsedToken[], options: Options): void {
  const seen = new Map<string, string>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name === undefined) continue;
    const o = options[t.name];
    if (o?.type !== 'string' || o.multiple) continue;
    const first = seen.get(t.name);
    if (first !== undefined) throw new UsageError(`--${t.name} given twice (${JSON.stringify(cut(first, 40))}, then ${JSON.stringify(cut(t.value ?? '', 40))}): it takes one value`);
    seen.set(t.name, t.value ?? '');
  }
}

function flagIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]) {
  return issues.map((i) => ({ ...i, path: i.path.length ? [`--${String(i.path[0]).replace(/_/g, '-')}`, ...i.path.slice(1)] : i.path }));
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** Resolve --cwd (default: the process cwd) and check it is a directory. */
export function resolveCwd(cwd: string | undefined): string {
  // `--cwd "$REPO"` with REPO unset would otherwise act on whatever directory the shell is in.
  if (cwd === '') throw new UsageError('--cwd is empty: name the repository\'s directory, or leave --cwd out for the current one');
  const dir = path.resolve(cwd ?? process.cwd());
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`--cwd: no such directory: ${dir}`);
  }
  if (!st.isDirectory()) throw new UsageError(`--cwd: not a directory: ${dir}`);
  return dir;
}

/**
 * Print a usage line: asked for (--help) it is the answer on stdout, exit 0; given for a
 * missing command it is the error, on stderr (stdout stays empty for a --json reader), exit 2.
 */
export function usage(text: string, asked: boolean): number {
  (asked ? process.stdout : process.stderr).write(text.endsWith('\n') ? text : text + '\n');
  return asked ? 0 : 2;
}

/** Print a result: one JSON object with --json, otherwise the short text. */
export function emit(json: boolean, data: unknown, text: string): void {
  // Descriptions, goals and config values end up in both: no escape sequence reaches a terminal raw.
  const safe = sanitize(text);
  process.stdout.write(json ? safeJson(data) + '\n' : safe.endsWith('\n') ? safe : safe + '\n');
}

/** Print what the model reads every iteration (run, log): as emit, with numbers rounded to meaningful digits. */
export function emitForModel(json: boolean, data: unknown, text: string): void {
  emit(json, json ? roundForModel(data) : data, text);
}

/**
 * Run an entry point and map errors onto the exit-code contract. A stack
 * trace is printed only with AUTOLOOP_DEBUG=1.
 */
export function main(name: string, fn: (argv: string[]) => Promise<number | void> | number | void): void {
  // Evaluated ahead by a pre-started engine: it starts this once the call is its own (boot/hold.ts).
  if (!handedOver(() => start(name, fn), fn)) start(name, fn);
}

function start(name: string, fn: (argv: string[]) => Promise<number | void> | number | void): void {
  const argv = process.argv.slice(2);
  // Once the event loop is empty nothing is left to run or flush (stdout and
  // files are written synchronously here): end at once. Node's own end would
  // first take the whole heap down (FreeEnvironment, isolate disposal, dozens of
  // munmap calls), a cost every call paid after its answer was out. The 'exit'
  // listeners (the code cache, the lock's release) run either way.
  process.once('beforeExit', () => process.exit());
  Promise.resolve()
    .then(() => fn(argv))
    .then(
      (code) => {
        process.exitCode = typeof code === 'number' ? code : 0;
      },
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        if (process.env.AUTOLOOP_DEBUG === '1') process.stderr.write(`${err.stack ?? err.message}\n`);
        if (err instanceof UsageError) {
          process.stderr.write(`${name}: ${sanitizeLine(err.message)}\n`);
          process.exitCode = 2;
        } else if (err instanceof RefusalError) {
          process.stderr.write(`${name}: ${sanitizeLine(err.message)}\n`);
          process.exitCode = 1;
        } else if (isDiskFull(err)) {
          // A full disk needs room, not a retry as is: the bare errno line told the model neither.
          process.stderr.write(`${name}: the disk is full (${sanitizeLine(firstLine(err.message))}): free space (old run logs under .autoloop/experiments/*/runs/), then call again\n`);
          process.exitCode = 1;
        } else {
          process.stderr.write(`${name}: error: ${sanitizeLine(firstLine(err.message))}\n`);
          process.exitCode = 1;
        }
      },
    );
}
