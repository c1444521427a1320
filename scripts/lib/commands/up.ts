// The up command: the overnight supervisor (lib/supervisor/). Runs the autoloop
// agent headless and starts it again whenever a session ends while the loop is
// live, until the engine says the loop is over. Its flags are its own before
// `--` and claude's after it (supervisor/flags.ts), so it takes argv whole.
import { emit, resolveCwd } from '../cli.ts';
import { parseUpFlags, USAGE } from '../supervisor/flags.ts';
import { repoRoot } from '../supervisor/engine.ts';
import { supervise } from '../supervisor/supervise.ts';

/** A progress line for people; best effort: a reader that has gone (`up | head`, a closed tee) must not end up before its claude. */
function say(line: string): void {
  try {
    process.stderr.write(`autoloop up: ${line}\n`);
  } catch {
    /* nobody reads stderr any more */
  }
}

/** Supervise the loop's sessions until it is over; the exit code of the last. */
export async function upCommand(argv: readonly string[]): Promise<number | void> {
  // A write to a pipe with no reader fails with EPIPE, reported as an 'error'
  // event: unhandled, it would kill up and orphan the running claude session.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  const f = parseUpFlags(argv, process.env);
  if (f.help) return void process.stdout.write(`${USAGE}\n`);
  const root = repoRoot(resolveCwd(f.cwd));
  const summary = await supervise({
    root,
    experiment: f.experiment,
    claude: f.claude,
    passThrough: f.passThrough,
    policy: f.policy,
    graceS: f.graceS,
    env: process.env,
    say,
  });
  if (f.json) emit(true, summary, '');
  return summary.code;
}
