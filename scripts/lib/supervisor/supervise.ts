// The overnight supervisor: run claude on the loop, and when a session ends
// while the engine says the loop is live, start it again with --continue
// after the wait the policy decides. Stops for good when the engine says the
// loop is over (terminated, paused, stopped by the user, cleared), and on
// SIGINT/SIGTERM/SIGHUP, ending the running session and everything it started.
import { RefusalError } from '../errors.ts';
import { launch, type Session } from './child.ts';
import { holdSupervisorLock, readLoop, recordRelaunch } from './engine.ts';
import { forgetSession, leftoverSession, noteSession } from './left-session.ts';
import { classify, nothingObserved, observe, seconds, type Cause, type Ending, type Observed } from './outcome.ts';
import { afterSession, decide, endCode, type Decision, type History, type LoopView, type Policy } from './policy.ts';

export const PROMPT = 'continue the autoloop experiment';
const POLL_MS = 2000;
const SIGNAL_CODES: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export interface SuperviseOptions {
  root: string;
  experiment?: string;
  claude: string;
  passThrough: string[];
  policy: Policy;
  graceS: number;
  env: NodeJS.ProcessEnv;
  /** Progress lines for people (stderr). */
  say(line: string): void;
}

export interface Summary {
  code: number;
  why: string;
  sessions: number;
  relaunches: { cause: Cause; wait_s: number }[];
}

export function claudeArgs(passThrough: readonly string[], resume: boolean): string[] {
  return ['--agent', 'autoloop', '-p', PROMPT, '--output-format', 'stream-json', '--verbose', ...(resume ? ['--continue'] : []), ...passThrough];
}

const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 5);

/** A wait that a signal cuts short. */
class Waker {
  private wake: (() => void) | null = null;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }
  interrupt(): void {
    this.wake?.();
  }
}

function safeRead(root: string, pinned: string | undefined): LoopView {
  try {
    return readLoop(root, pinned);
  } catch (e) {
    return { live: false, slug: pinned ?? null, why: 'unreadable', message: `cannot read the experiment: ${(e as Error).message}` };
  }
}

/** Start one claude session; its stream-json lines are folded into what was observed. */
function startSession(o: SuperviseOptions, resume: boolean): { session: Session; observed: () => Observed } {
  let obs: Observed = nothingObserved();
  const session = launch({
    command: o.claude,
    args: claudeArgs(o.passThrough, resume),
    cwd: o.root,
    env: o.env,
    onLine: (line) => {
      const r = observe(obs, line);
      obs = r.obs;
      if (r.note) o.say(r.note);
    },
    onStderr: (chunk) => {
      for (const l of chunk.split('\n')) if (l.trim()) o.say(`claude: ${l.trim()}`);
    },
  });
  return { session, observed: () => obs };
}

/** Append the relaunch to the ledger; a failure to do so is reported, never fatal. */
async function noteRelaunch(o: SuperviseOptions, slug: string, d: Extract<Decision, { action: 'relaunch' }>, ending: Ending, next: number): Promise<void> {
  const data = { cause: d.cause, detail: ending.detail, wait_s: Math.round(d.waitMs / 1000), session: next, ...(ending.sessionId ? { session_id: ending.sessionId } : {}) };
  try {
    await recordRelaunch(o.root, slug, data);
  } catch (e) {
    o.say(`warning: could not record the relaunch in the ledger: ${(e as Error).message}`);
  }
  const why = d.capped ? `${d.why} (at most ${o.policy.perHour} relaunches an hour)` : d.why;
  o.say(`relaunching in ${seconds(d.waitMs)} (at ${clock(Date.now() + d.waitMs)}): ${why}`);
}

/** Wait, re-reading the engine meanwhile: the loop's state when the wait ends (early if it is over). */
async function waitWatching(o: SuperviseOptions, waker: Waker, ms: number, view: LoopView, interrupted: () => boolean): Promise<LoopView> {
  const until = Date.now() + ms;
  while (!interrupted() && Date.now() < until) {
    await waker.sleep(Math.min(POLL_MS, until - Date.now()));
    view = safeRead(o.root, o.experiment);
    if (!view.live) break;
  }
  return view;
}

/** The last line and the summary when the supervisor stops for good. */
function stopWith(o: SuperviseOptions, summary: Summary, code: number, why: string): Summary {
  o.say(code === 0 ? `done: ${why}` : `giving up: ${why}`);
  return { ...summary, code, why };
}

export async function supervise(o: SuperviseOptions): Promise<Summary> {
  const first = readLoop(o.root, o.experiment);
  if (!first.live) throw new RefusalError(`nothing to run: ${first.message}`);
  const lock = holdSupervisorLock(o.root);
  const left = leftoverSession(o.root);
  if (left !== null) {
    lock.release();
    throw new RefusalError(`claude (pid ${left}), started by an earlier up that was killed, is still running this loop; end it (kill -- -${left}) or let it finish, then up again`);
  }
  const waker = new Waker();
  let current: Session | null = null;
  let signalled: string | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = sig;
    o.say(`${sig}: stopping${current ? ` claude (pid ${current.pid}) and everything it started` : ''}…`);
    waker.interrupt();
    void current?.stop(o.graceS);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  const summary: Summary = { code: 0, why: '', sessions: 0, relaunches: [] };
  const bySignal = (sig: string): Summary => ({ ...summary, code: SIGNAL_CODES[sig] ?? 1, why: `stopped by ${sig}` });
  let history: History = { relaunches: [], stalled: 0 };
  let view: LoopView = first;
  try {
    for (;;) {
      const runsBefore = view.live ? view.runs : 0;
      const resume = ++summary.sessions > 1;
      const run = startSession(o, resume);
      current = run.session;
      noteSession(o.root, current.pid);
      o.say(`session ${summary.sessions}: started claude (pid ${current.pid})${resume ? ' with --continue' : ''} on experiment ${view.slug}`);
      const exit = await current.done;
      forgetSession(o.root);
      current = null;
      if (signalled) return bySignal(signalled);
      const ending = classify(exit, run.observed(), Date.now());
      o.say(`session ${summary.sessions} ended: ${ending.detail}`);

      view = safeRead(o.root, o.experiment);
      history = afterSession(history, runsBefore, view.live ? view.runs : runsBefore, ending.cause);
      const decision = decide({ ending, loop: view, history, policy: o.policy, nowMs: Date.now() });
      if (decision.action === 'stop') return stopWith(o, summary, decision.code, decision.why);
      await noteRelaunch(o, view.slug ?? first.slug, decision, ending, summary.sessions + 1);
      summary.relaunches.push({ cause: decision.cause, wait_s: Math.round(decision.waitMs / 1000) });
      view = await waitWatching(o, waker, decision.waitMs, view, () => signalled !== null);
      if (signalled) return bySignal(signalled);
      if (!view.live) return stopWith(o, summary, endCode(view), view.message);
      history = { ...history, relaunches: [...history.relaunches, Date.now()] };
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
    lock.release();
  }
}
