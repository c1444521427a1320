// A benchmark run through a task runner (`make bench`, `npm run bench`) names
// no file itself: what judges it is the Makefile or package.json and whatever
// the target's recipe or the script runs. This finds those, so that they are
// judges like the files a plain command names.
import fs from 'node:fs';
import path from 'node:path';

/** A shell word or operator, as integrity.ts's shellTokens gives them. */
export interface CmdToken {
  kind: 'word' | 'op';
  value: string;
}

/** A call of a task runner found in a command. */
export interface RunnerCall {
  tool: 'make' | 'npm';
  /** The directory it runs in, relative to where the command runs ('' for there). */
  dir: string;
  /** make's -f file (relative to dir), or null for the default names. */
  file: string | null;
  /** make's goals or the script names (empty: make's default goal). */
  targets: string[];
  /** The node runner that was called (npm, pnpm, yarn, bun): which project config it reads. */
  program?: string;
}

/** What a runner call delegates to: the files that define it, and the command lines it runs (in `dir`). */
export interface Delegation {
  manifests: string[];
  /**
   * Files absent now that the runner would read before or beside its manifest if they appeared
   * (absolute): a `GNUmakefile` in front of the `Makefile`, an `-include` not there yet, an `.npmrc`
   * whose `script-shell` runs every script. Judges by their absence: a benchmark that created one
   * (a new file outside the scope is allowed) had the next runs judged by it, the manifest untouched.
   */
  shadows: string[];
  /** make's prerequisites that are files: inputs, unless the build writes them (the caller tells). */
  prereqs: string[];
  /** Files a rule with a recipe builds (absolute): make's output, never a judge, even where a recipe names it. */
  outputs: string[];
  commands: string[];
  dir: string;
}

const MAKES = new Set(['make', 'gmake']);
/** The names GNU make reads without -f, first found first. */
const MAKEFILE_NAMES = ['GNUmakefile', 'makefile', 'Makefile'];
/** Each node runner's project config beside package.json (npm's `script-shell` and `node-options`, yarn's, bun's `preload`). */
const NODE_RUNNER_CONFIGS: Record<string, string[]> = { npm: ['.npmrc'], pnpm: ['.npmrc'], yarn: ['.npmrc', '.yarnrc', '.yarnrc.yml'], bun: ['bunfig.toml'] };
const NODE_RUNNERS = new Set(['npm', 'pnpm', 'yarn', 'bun']);
/** npm's own commands that run the script of the same name. */
const SCRIPT_ALIASES = new Set(['test', 't', 'tst', 'start', 'stop', 'restart']);
const RUN_WORDS = new Set(['run', 'run-script', 'rum', 'urn']);
/** Words that start another program in front of the one that matters (`time make`, `nice -n 5 npm test`). */
const PREFIXES = new Set(['time', 'nice', 'exec', 'env', 'command', 'nohup']);

/** The simple commands of a command line: the words between operators. */
function simpleCommands(toks: readonly CmdToken[]): string[][] {
  const out: string[][] = [[]];
  for (const t of toks) {
    if (t.kind === 'op') out.push([]);
    else (out[out.length - 1] as string[]).push(t.value);
  }
  return out.filter((c) => c.length > 0);
}

/** The words from the program on: assignments and prefixes (with their flags) skipped. */
function program(words: readonly string[]): string[] {
  let i = 0;
  while (i < words.length) {
    const w = words[i] as string;
    // A number here is a prefix's flag value (`nice -n 5`), never the program.
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) || w.startsWith('-') || PREFIXES.has(w) || /^\d+$/.test(w)) i++;
    else break;
  }
  return words.slice(i);
}

function makeCall(args: readonly string[]): RunnerCall {
  const call: RunnerCall = { tool: 'make', dir: '', file: null, targets: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value = (short: string, long: string): string | null => {
      if (a === short || a === long) return (args[++i] as string | undefined) ?? null;
      if (a.startsWith(`${long}=`)) return a.slice(long.length + 1);
      if (a.startsWith(short) && a.length > short.length && !a.startsWith('--')) return a.slice(short.length);
      return null;
    };
    const dir = value('-C', '--directory');
    if (dir !== null) call.dir = path.posix.join(call.dir, dir);
    else {
      const file = a.startsWith('--makefile=') ? a.slice(11) : value('-f', '--file');
      if (file !== null) call.file = file;
      // -j 4, -l 2: a count, not a goal.
      else if ((a === '-j' || a === '-l') && /^\d+(\.\d+)?$/.test(args[i + 1] ?? '')) i++;
      else if (!a.startsWith('-') && !a.includes('=')) call.targets.push(a);
    }
  }
  return call;
}

function nodeCall(tool: string, args: readonly string[]): RunnerCall | null {
  let dir = '';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--prefix' || a === '--cwd' || a === '--dir' || a === '-C') dir = (args[++i] as string | undefined) ?? '';
    else if (/^--(prefix|cwd|dir)=/.test(a)) dir = a.slice(a.indexOf('=') + 1);
    else if (!a.startsWith('-')) rest.push(a);
  }
  const [first, second] = rest;
  if (first === undefined) return null;
  let script: string | undefined;
  if (RUN_WORDS.has(first)) script = second;
  else if (SCRIPT_ALIASES.has(first) && !(tool === 'bun' && first === 'test')) script = first;
  // yarn, pnpm and bun run a script named as their first word.
  else if (tool !== 'npm' && tool !== 'bun') script = first;
  return script === undefined ? null : { tool: 'npm', dir, file: null, targets: [script], program: tool };
}

/** A node runner's project config files in `dir` (absolute): those there, and those it would read if they appeared. */
export function runnerConfigs(dir: string, runner: string): { present: string[]; absent: string[] } {
  const files = (NODE_RUNNER_CONFIGS[runner] ?? []).map((n) => path.join(dir, n));
  const present = files.filter((f) => readText(f) !== null);
  return { present, absent: files.filter((f) => !present.includes(f)) };
}

/** Commands that start a package's program through a node runner: its config reaches the program all the same. */
const EXEC_PROGRAMS: Record<string, string> = { npx: 'npm', pnpx: 'pnpm', bunx: 'bun' };
const EXEC_WORDS = new Set(['exec', 'x', 'dlx']);

/**
 * The node runners a command line starts a program through (`npx scorer`, `npm exec -- x`, `bunx`):
 * no script to follow, but an `.npmrc`'s `node-options` becomes the program's NODE_OPTIONS (a
 * `--require` of a forger). Each with the directory it runs in, relative ('' for where the command runs).
 */
export function execCalls(toks: readonly CmdToken[]): { runner: string; dir: string }[] {
  const out: { runner: string; dir: string }[] = [];
  for (const words of simpleCommands(toks)) {
    const [head, ...args] = program(words);
    if (head === undefined) continue;
    const name = path.posix.basename(head);
    const first = args.find((a) => !a.startsWith('-'));
    const runner = Object.hasOwn(EXEC_PROGRAMS, name) ? EXEC_PROGRAMS[name] : NODE_RUNNERS.has(name) && first !== undefined && EXEC_WORDS.has(first) ? name : undefined;
    if (runner === undefined) continue;
    const at = args.findIndex((a) => a === '--prefix' || a === '--cwd' || a === '--dir' || a === '-C');
    out.push({ runner, dir: at >= 0 ? (args[at + 1] ?? '') : '' });
  }
  return out;
}

/** The task-runner calls a command line makes. */
export function runnerCalls(toks: readonly CmdToken[]): RunnerCall[] {
  const out: RunnerCall[] = [];
  for (const words of simpleCommands(toks)) {
    const [head, ...args] = program(words);
    if (head === undefined) continue;
    const name = path.posix.basename(head);
    if (MAKES.has(name)) out.push(makeCall(args));
    else if (NODE_RUNNERS.has(name)) {
      const call = nodeCall(name, args);
      if (call) out.push(call);
    }
  }
  return out;
}

function readText(abs: string): string | null {
  try {
    return fs.statSync(abs).isFile() ? fs.readFileSync(abs, 'utf8') : null;
  } catch {
    return null;
  }
}

/** A package.json's scripts for these names, with npm's pre and post hooks. */
function npmDelegation(dir: string, call: RunnerCall): Delegation | null {
  const manifest = path.join(dir, 'package.json');
  const text = readText(manifest);
  if (text === null) return null;
  const { present, absent } = runnerConfigs(dir, call.program ?? 'npm');
  let scripts: Record<string, unknown> = {};
  try {
    const pkg = JSON.parse(text) as { scripts?: unknown };
    if (pkg.scripts && typeof pkg.scripts === 'object') scripts = pkg.scripts as Record<string, unknown>;
  } catch {
    // unreadable: the manifest is a judge all the same
  }
  const commands = call.targets.flatMap((t) => [`pre${t}`, t, `post${t}`]).map((k) => scripts[k]).filter((s): s is string => typeof s === 'string');
  return { manifests: [manifest, ...present], shadows: absent, prereqs: [], outputs: [], commands, dir };
}

interface Rule {
  targets: string[];
  prereqs: string[];
  recipe: string[];
}

/** A Makefile's rules (enough of make's syntax to follow a goal to its recipe and prerequisites). */
export function parseMakefile(text: string): { rules: Rule[]; includes: string[] } {
  const lines = text.replace(/\\\r?\n[ \t]*/g, ' ').split(/\r?\n/);
  const rules: Rule[] = [];
  const includes: string[] = [];
  let current: Rule | null = null;
  for (const line of lines) {
    if (line.startsWith('\t')) {
      if (current) current.recipe.push(line.trim().replace(/^[@+-]+/, ''));
      continue;
    }
    const inc = /^\s*-?s?include\s+(.+)$/.exec(line);
    if (inc) {
      includes.push(...(inc[1] as string).split(/\s+/).filter(Boolean));
      current = null;
      continue;
    }
    const rule = /^([^:=#\s][^:=#]*?)\s*::?(?!=)\s*([^#]*)$/.exec(line);
    if (!rule) {
      if (line.trim() !== '' && !line.trim().startsWith('#')) current = null;
      continue;
    }
    const [deps, inline] = (rule[2] as string).split(';', 2) as [string, string | undefined];
    current = { targets: (rule[1] as string).split(/\s+/), prereqs: deps.split(/[\s|]+/).filter(Boolean), recipe: inline?.trim() ? [inline.trim()] : [] };
    rules.push(current);
  }
  return { rules, includes };
}

function makeDelegation(dir: string, call: RunnerCall): Delegation | null {
  const names = (call.file !== null ? [call.file] : MAKEFILE_NAMES).map((n) => path.resolve(dir, n));
  const at = names.findIndex((abs) => readText(abs) !== null);
  const manifest = names[at];
  if (manifest === undefined) return null;
  const { rules, includes } = parseMakefile(readText(manifest) as string);
  const goals = call.targets.length ? call.targets : (rules.flatMap((r) => r.targets).filter((t) => !t.startsWith('.') && !t.includes('%')).slice(0, 1));
  const commands: string[] = [];
  const prereqFiles: string[] = [];
  const seen = new Set<string>();
  const walk = (goal: string): void => {
    if (seen.has(goal)) return;
    seen.add(goal);
    for (const r of rules.filter((x) => x.targets.includes(goal))) {
      commands.push(...r.recipe);
      for (const p of r.prereqs) {
        prereqFiles.push(path.resolve(dir, p));
        walk(p);
      }
    }
  };
  goals.forEach(walk);
  // A name made of variables or a glob is not known here; the others are, present or not.
  const included = includes.filter((f) => !/[$*?[]/.test(f)).map((f) => path.resolve(dir, f));
  const exists = (abs: string) => readText(abs) !== null;
  const outputs = new Set(rules.filter((r) => r.recipe.length).flatMap((r) => r.targets).map((t) => path.resolve(dir, t)));
  const absent = [...names.slice(0, at), ...included.filter((abs) => !exists(abs) && !outputs.has(abs))];
  return { manifests: [manifest, ...included.filter(exists)], shadows: absent, prereqs: prereqFiles.filter((abs) => exists(abs) && !outputs.has(abs)), outputs: [...outputs], commands, dir };
}

/**
 * Does the Makefile a make call (made in `cwd`) finds have a way to make each
 * goal it names? A rule of its own, a pattern rule, a rule an include may hold
 * (not read: assumed), a file of that name (up to date) or one make's built-in
 * rules could make it from (`prog.c`). False without a Makefile. A top
 * Makefile without the package's `bench` goal took `make bench` from the
 * package, and every run crashed: "No rule to make target 'bench'".
 */
export function makeFindsGoals(cwd: string, call: RunnerCall): boolean {
  const d = delegation(cwd, call);
  if (d === null || call.tool !== 'make') return d !== null;
  const { rules, includes } = parseMakefile(readText(d.manifests[0] as string) as string);
  if (includes.length || rules.some((r) => r.targets.some((t) => t.includes('%')))) return true;
  const names = new Set(rules.flatMap((r) => r.targets));
  const beside = (goal: string): boolean => {
    try {
      return fs.readdirSync(path.dirname(path.resolve(d.dir, goal))).some((f) => f === path.basename(goal) || f.startsWith(`${path.basename(goal)}.`));
    } catch {
      return false;
    }
  };
  return call.targets.every((g) => names.has(g) || beside(g));
}

/** What a runner call (made in `cwd`) delegates to, or null when its manifest is not there. */
export function delegation(cwd: string, call: RunnerCall): Delegation | null {
  const dir = path.resolve(cwd, call.dir);
  return call.tool === 'make' ? makeDelegation(dir, call) : npmDelegation(dir, call);
}
