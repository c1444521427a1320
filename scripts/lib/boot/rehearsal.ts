// A rehearsal in a pre-started engine (zygote.ts): while it waits for its call,
// the zygote runs whole one-call iterations (a baseline, a keep, a discard) on a
// scratch repository of its own in the temp folder, through a second evaluation
// of run-experiment's compiled bundle. What it leaves warm is shared code:
// Node's own JavaScript (fs, path, child_process, streams) compiled and with
// its inline caches filled, and the bundle's functions compiled (V8 shares
// those between two evaluations of one script). What it cannot leave is the
// engine's state: the call runs in the first evaluation, whose modules have
// run nothing yet (each evaluation has its own module variables: memos, caches,
// counters). The process state an iteration may touch (environment, cwd, exit
// code, listeners, output) is put back, the scratch folder removed, and the
// rehearsal's environment has none of the engine's switches (AUTOLOOP_*: the
// counts, crash points, faults), so nothing of it is counted or seen by the call.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from './hold.ts';

/** The scratch folder's name in the temp folder (tests look for leftovers by it). */
export const REHEARSAL_PREFIX = 'autoloop-rehearsal-';

type Listener = (...args: unknown[]) => void;
type Write = typeof process.stdout.write;

/** What an iteration may change in the process, as it was before the rehearsal. */
interface Saved {
  env: Record<string, string>;
  cwd: string;
  exitCode: typeof process.exitCode;
  listeners: Map<string | symbol, Listener[]>;
  out: Write;
  err: Write;
}

const strings = (env: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));

function save(): Saved {
  const listeners = new Map(process.eventNames().map((e) => [e, process.listeners(e as NodeJS.Signals) as Listener[]]));
  return { env: strings(process.env), cwd: process.cwd(), exitCode: process.exitCode, listeners, out: process.stdout.write, err: process.stderr.write };
}

function setEnv(env: Record<string, string>): void {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, env);
}

/** Put the process back as it was: listeners the rehearsal added removed, the rest as saved. */
function restore(s: Saved): void {
  for (const e of process.eventNames()) {
    const before = s.listeners.get(e) ?? [];
    for (const l of process.listeners(e as NodeJS.Signals) as Listener[]) if (!before.includes(l)) process.removeListener(e, l);
  }
  process.stdout.write = s.out;
  process.stderr.write = s.err;
  setEnv(s.env);
  process.chdir(s.cwd);
  process.exitCode = s.exitCode;
}

/** The rehearsal's environment: the zygote's without the engine's switches and git's variables. */
export function scratchEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^(AUTOLOOP_|GIT_)/i.test(k)));
}

/** Run a program to its end (in `running` meanwhile); true when it exited 0. */
function ran(running: Set<ChildProcess>, file: string, args: string[], cwd: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn(file, args, { cwd, env: process.env, stdio: 'ignore' });
    running.add(c);
    const done = (ok: boolean) => {
      running.delete(c);
      resolve(ok);
    };
    c.once('error', () => done(false));
    c.once('close', (code) => done(code === 0));
  });
}

/** The commands rehearsed: run-experiment's and log-experiment's, each from an evaluation of its own. */
export interface Rehearsed {
  run: Command;
  log: Command | null;
}

/** The scratch repository's own config: the identity the engine's commits read, and none of the user's hooks or signing. */
const SCRATCH_CONFIG = '[user]\n\tname = autoloop\n\temail = autoloop@localhost\n[core]\n\thooksPath = /dev/null\n[commit]\n\tgpgSign = false\n';

/** How many steps a whole rehearsal has (steps()): from nothing, the first of a server's zygotes. */
export const REHEARSAL_STEPS = 6;
/** From a template (templates()): a copy and one engine call of the form expected. */
export const TEMPLATE_STEPS = 2;

/** The call a zygote expects: a one-call iteration (or any other), a run to be logged (after a log), or the log of a run the last call made. */
export const NEXT = ['one', 'run', 'log'] as const;
export type Next = (typeof NEXT)[number];

/**
 * A server's templates: copies of a scratch repository its first rehearsal made, kept in the temp
 * folder for its later zygotes (named by the server's pid: swept when it is gone, removed as it
 * closes). `base`: experiment and baseline kept; `pending`: a run measured after it, not logged.
 */
export const TEMPLATE_PREFIX = 'autoloop-template-';
export interface Templates {
  base: string;
  pending: string;
}
export function templates(tmp: string, server: number, build: string): Templates {
  const at = (form: string) => path.join(tmp, `${TEMPLATE_PREFIX}${server}-${build}-${form}`);
  return { base: at('base'), pending: at('pending') };
}

/** A template this process may copy: a real folder of this user's that no one else can write (the temp folder is shared). */
export function trusted(dir: string): boolean {
  try {
    const st = fs.lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Keep a copy of `dir` as `to` (copied aside, then renamed into place: never half a template); an existing one stays. */
function keepTemplate(dir: string, to: string): void {
  if (fs.existsSync(to)) return;
  const aside = fs.mkdtempSync(`${to}.tmp-`);
  try {
    fs.cpSync(dir, aside, { recursive: true, preserveTimestamps: true });
    fs.renameSync(aside, to);
  } catch {
    fs.rmSync(aside, { recursive: true, force: true });
  }
}

/** Where a rehearsal starts, and what it leaves for the next (null: no temp folder for templates). */
interface Plan {
  next: Next;
  templates: Templates | null;
}

const passes = async (command: Command, argv: string[]): Promise<boolean> => {
  const code = await command(argv);
  return code === undefined || code === 0;
};

type Step = [name: string, run: () => Promise<boolean>];

/**
 * The steps, each run only while no call waits. From a template: a copy of it, then one call of the
 * form expected (a keep in one call; a run to be logged; or the log of the run the copy holds).
 * From nothing: a repository, its experiment, a baseline (a keep) and a discard, then a run and its
 * log when there is a log; the templates are kept on the way.
 */
function steps({ run, log }: Rehearsed, dist: string, dir: string, running: Set<ChildProcess>, { next, templates: t }: Plan): Step[] {
  const git = (...args: string[]) => ran(running, 'git', args, dir);
  const write = (value: string) => fs.writeFileSync(path.join(dir, 'src', 'v.txt'), value);
  const iterate = (value: string, description: string) => () => {
    write(value);
    return passes(run, ['--description', description, '--cwd', dir]);
  };
  const keeping = (step: () => Promise<boolean>, to: string | undefined) => async () => {
    const ok = await step();
    if (ok && to) keepTemplate(dir, to);
    return ok;
  };
  const copy = (from: string) => async () => {
    fs.cpSync(from, dir, { recursive: true, preserveTimestamps: true });
    return true;
  };
  // One engine call after the copy, in the form expected: a call a model's short turn sends finds the rehearsal over.
  if (t && next === 'log' && log && trusted(t.pending)) return [['template-pending', copy(t.pending)], ['log', () => passes(log, ['--description', 'keep', '--cwd', dir])]];
  if (t && trusted(t.base)) {
    const toLog = async () => {
      write('-1');
      return passes(run, ['--cwd', dir]);
    };
    const form: Step = next === 'run' ? ['run', toLog] : ['keep', iterate('0', 'keep')];
    return [['template-base', copy(t.base)], form];
  }
  return [
    [
      'repository',
      async () => {
        fs.mkdirSync(path.join(dir, 'src'));
        write('1');
        fs.writeFileSync(path.join(dir, 'bench.sh'), 'echo METRIC score=$(cat src/v.txt)\n');
        // No template (no hooks copied in); the repository's config wins over the user's: no hook, no signing.
        if (!(await git('init', '-q', '--template=', '-b', 'main'))) return false;
        fs.appendFileSync(path.join(dir, '.git', 'config'), SCRATCH_CONFIG);
        return (await git('add', '-A')) && git('commit', '-q', '--no-verify', '-m', 'rehearsal');
      },
    ],
    ['init-experiment', () => ran(running, process.execPath, [path.join(dist, 'init-experiment.mjs'), '--name', 'rehearsal', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none', '--cwd', dir], dir)],
    // A first run is kept (the baseline): the keep's path, then the discard's.
    ['baseline', keeping(iterate('1', 'baseline'), t?.base)],
    ['discard', iterate('5', 'discard')],
    ...(log
      ? ([
          [
            'run',
            keeping(() => {
              write('-1');
              return passes(run, ['--cwd', dir]);
            }, t?.pending),
          ],
          ['log', () => passes(log, ['--description', 'keep', '--cwd', dir])],
        ] satisfies Step[])
      : []),
  ];
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Remove the scratch folders of zygotes that are gone (a SIGKILL leaves its folder), and the templates of servers gone: named by their pid. */
function sweep(tmp: string): void {
  for (const name of fs.readdirSync(tmp)) {
    const pid = Number(/^autoloop-(?:rehearsal|template)-(\d+)-/.exec(name)?.[1]);
    if (pid > 0 && !alive(pid)) fs.rmSync(path.join(tmp, name), { recursive: true, force: true });
  }
}

/**
 * Rehearse an iteration with `commands` (from second evaluations of the bundles in `dist`), step
 * by step until `called` (a call came): how many of its steps passed. A step that only waits for
 * a child process (git, init-experiment) is cut short then (the child killed); an engine call
 * runs to its end (at most one: the call waits for it). `server` and `build` name the templates
 * (null: none kept or used); `trace` is told each step as it starts and ends.
 * Never throws; the process is as it was after it, and the scratch folder gone (also when the
 * process ends during it).
 */
export interface RehearsalOptions {
  next: Next;
  /** The server's pid and the build's hash: whose templates these are. */
  server: number | null;
  build: string | null;
  trace: (event: string) => void;
}

export async function rehearse(commands: Rehearsed, dist: string, called: AbortSignal, o: RehearsalOptions): Promise<number> {
  let passed = 0;
  const saved = save();
  const tmp = fs.realpathSync(os.tmpdir());
  sweep(tmp);
  // The server gone (setpriv's pdeathsig): end, cleaning up, as Node's default for SIGTERM would end.
  // Taken before the folder exists: a SIGTERM the default action met then would leave it behind.
  process.on('SIGTERM', () => process.exit(143));
  const dir = fs.mkdtempSync(path.join(tmp, `${REHEARSAL_PREFIX}${process.pid}-`));
  // Its own children first (init-experiment would write into the folder again), then the folder.
  const running = new Set<ChildProcess>();
  const kill = () => {
    for (const c of running) c.kill('SIGKILL');
  };
  const clean = () => {
    kill();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', clean);
  called.addEventListener('abort', kill);
  try {
    setEnv(scratchEnv(saved.env));
    process.stdout.write = (() => true) as Write;
    process.stderr.write = (() => true) as Write;
    const t = o.server && o.build ? templates(tmp, o.server, o.build) : null;
    for (const [name, step] of steps(commands, dist, dir, running, { next: o.next, templates: t })) {
      if (called.aborted) break;
      o.trace(`step ${name}`);
      const ok = await step();
      o.trace(`done ${name}`);
      if (!ok) break;
      passed++;
    }
  } catch {
    // a rehearsal that fails leaves the code colder, nothing else
  } finally {
    called.removeEventListener('abort', kill);
    restore(saved);
    clean();
  }
  return passed;
}
