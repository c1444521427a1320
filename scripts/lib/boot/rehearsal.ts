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

/** How many steps a whole rehearsal has (steps()). */
export const REHEARSAL_STEPS = 6;

const passes = async (command: Command, argv: string[]): Promise<boolean> => {
  const code = await command(argv);
  return code === undefined || code === 0;
};

/**
 * The steps, each run only while no call waits: a repository, its experiment, a baseline (a keep)
 * and a discard in one call each, then a run and its log (the two-call form) when there is a log.
 */
function steps({ run, log }: Rehearsed, dist: string, dir: string, running: Set<ChildProcess>): (() => Promise<boolean>)[] {
  const git = (...args: string[]) => ran(running, 'git', args, dir);
  const iterate = (value: string, description: string) => () => {
    fs.writeFileSync(path.join(dir, 'src', 'v.txt'), value);
    return passes(run, ['--description', description, '--cwd', dir]);
  };
  return [
    async () => {
      fs.mkdirSync(path.join(dir, 'src'));
      fs.writeFileSync(path.join(dir, 'src', 'v.txt'), '1');
      fs.writeFileSync(path.join(dir, 'bench.sh'), 'echo METRIC score=$(cat src/v.txt)\n');
      // No template (no hooks copied in); the repository's config wins over the user's: no hook, no signing.
      if (!(await git('init', '-q', '--template=', '-b', 'main'))) return false;
      fs.appendFileSync(path.join(dir, '.git', 'config'), SCRATCH_CONFIG);
      return (await git('add', '-A')) && git('commit', '-q', '--no-verify', '-m', 'rehearsal');
    },
    () => ran(running, process.execPath, [path.join(dist, 'init-experiment.mjs'), '--name', 'rehearsal', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none', '--cwd', dir], dir),
    // A first run is kept (the baseline): the keep's path, then the discard's.
    iterate('1', 'baseline'),
    iterate('5', 'discard'),
    ...(log
      ? [
          () => {
            fs.writeFileSync(path.join(dir, 'src', 'v.txt'), '-1');
            return passes(run, ['--cwd', dir]);
          },
          () => passes(log, ['--description', 'keep', '--cwd', dir]),
        ]
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

/** Remove the scratch folders of zygotes that are gone (a SIGKILL leaves its folder): named by their pid. */
function sweep(tmp: string): void {
  for (const name of fs.readdirSync(tmp)) {
    const pid = Number(/^autoloop-rehearsal-(\d+)-/.exec(name)?.[1]);
    if (pid > 0 && !alive(pid)) fs.rmSync(path.join(tmp, name), { recursive: true, force: true });
  }
}

/**
 * Rehearse an iteration with `commands` (from second evaluations of the bundles in `dist`), step
 * by step until `called` (a call came): how many of its steps passed. A step that only waits for
 * a child process (git, init-experiment) is cut short then (the child killed); an engine call
 * runs to its end (at most one: the call waits for it).
 * Never throws; the process is as it was after it, and the scratch folder gone (also when the
 * process ends during it).
 */
export async function rehearse(commands: Rehearsed, dist: string, called: AbortSignal): Promise<number> {
  let passed = 0;
  const saved = save();
  const tmp = fs.realpathSync(os.tmpdir());
  sweep(tmp);
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
  // The server gone (setpriv's pdeathsig): end, cleaning up, as Node's default for SIGTERM would end.
  process.on('SIGTERM', () => process.exit(143));
  try {
    setEnv(scratchEnv(saved.env));
    process.stdout.write = (() => true) as Write;
    process.stderr.write = (() => true) as Write;
    for (const step of steps(commands, dist, dir, running)) {
      if (called.aborted || !(await step())) break;
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
