// The overnight supervisor: run claude on the loop, and when a session ends
// while the engine says the loop is live, start it again after the wait the
// policy decides, resuming the loop's own conversation by its id (never
// --continue: that is the directory's latest conversation, maybe the user's).
// A loop that terminated with its experiment not closed gets one closing
// session (/autoloop:chain, in a new conversation). Stops for good when the engine says the loop is
// over (closed, paused, stopped by the user, cleared), and on
// SIGINT/SIGTERM/SIGHUP, ending the running session and everything it started.
import { RefusalError } from '../errors.ts';
import { launch, type Session } from './child.ts';
import { holdSupervisorLock, readLoop, recentRelaunches, recordRelaunch } from './engine.ts';
import { forgetSession, leftBehind, leftoverSession, noteSession, usableSessionId } from './left-session.ts';
import { classify, nothingObserved, observe, seconds, type Cause, type Observed } from './outcome.ts';
import { afterSession, capWaitMs, decide, describeCause, endCode, MAX_CLOSINGS, type Decision, type History, type LoopView, type Policy } from './policy.ts';
import { freshStopStint } from './stop-stint.ts';

export const PROMPT = 'continue the autoloop experiment';
/** The protocol's closing step for a terminated experiment: report, then follow up or finalize and clear. */
export const CLOSE_PROMPT = '/autoloop:chain';
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

/** The claude command line: the loop's conversation resumed by its id when there is one, else a new one. */
export function claudeArgs(passThrough: readonly string[], resume: string | null, prompt: string = PROMPT): string[] {
  return ['--agent', 'autoloop', '-p', prompt, '--output-format', 'stream-json', '--verbose', ...(resume ? ['--resume', resume] : []), ...passThrough];
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
function startSession(o: SuperviseOptions, resume: string | null, prompt: string): { session: Session; observed: () => Observed } {
  let obs: Observed = nothingObserved();
  if (resume) freshStopStint(o.root, resume);
  const session = launch({
    command: o.claude,
    args: claudeArgs(o.passThrough, resume, prompt),
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

interface Pending {
  cause: Cause;
  detail: string;
  waitMs: number;
}

/**
 * Append a relaunch to the ledger once its session has started (a wait cut
 * short by Ctrl+C or `control stop` is no relaunch); a failure to record it
 * is reported, never fatal.
 */
async function noteRelaunch(o: SuperviseOptions, slug: string, p: Pending, session: number, resumed: string | null): Promise<void> {
  const data = { cause: p.cause, detail: p.detail, wait_s: Math.round(p.waitMs / 1000), session, ...(resumed ? { session_id: resumed } : {}) };
  try {
    await recordRelaunch(o.root, slug, data);
  } catch (e) {
    o.say(`warning: could not record the relaunch in the ledger: ${(e as Error).message}`);
  }
}

function sayWait(o: SuperviseOptions, d: Extract<Decision, { action: 'relaunch' }>): void {
  const why = d.capped ? `${d.why} (at most ${o.policy.perHour} relaunches an hour)` : d.why;
  o.say(`relaunching in ${seconds(d.waitMs)} (at ${clock(Date.now() + d.waitMs)}): ${why}`);
}

/** Wait, re-reading the engine meanwhile: the loop's state when the wait ends (early if it is over). */
async function waitWatching(o: SuperviseOptions, waker: Waker, ms: number, view: LoopView, interrupted: () => boolean): Promise<LoopView> {
  const until = Date.now() + ms;
  const closing = !view.live;
  while (!interrupted() && Date.now() < until) {
    await waker.sleep(Math.min(POLL_MS, until - Date.now()));
    view = safeRead(o.root, o.experiment);
    // A live loop that ended, or a terminated one that was closed (cleared, chained) meanwhile.
    if (closing ? view.live || view.why !== 'terminated' : !view.live) break;
  }
  return view;
}

/** Is the loop where up starts a session: live, or terminated and not yet closed (with closing sessions left)? */
const wantsSession = (view: LoopView, closings: number): boolean => view.live || (view.why === 'terminated' && closings < MAX_CLOSINGS);

/** The last line and the summary when the supervisor stops for good. */
function stopWith(o: SuperviseOptions, summary: Summary, code: number, why: string): Summary {
  o.say(code === 0 ? `done: ${why}` : `giving up: ${why}`);
  return { ...summary, code, why };
}

/** The loop to supervise and the supervisor's lock; refused beside a claude an earlier, killed up left running. */
function preflight(o: SuperviseOptions): { first: LoopView; lock: ReturnType<typeof holdSupervisorLock> } {
  const first = readLoop(o.root, o.experiment);
  if (!first.live && first.why !== 'terminated') throw new RefusalError(`nothing to run: ${first.message}`);
  const lock = holdSupervisorLock(o.root);
  const left = leftoverSession(o.root);
  if (left !== null) {
    lock.release();
    throw new RefusalError(`claude (pid ${left}), started by an earlier up that was killed, is still running this loop; end it (kill -- -${left}) or let it finish, then up again`);
  }
  return { first, lock };
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Ctrl+C, SIGTERM, SIGHUP: the first one stops the running claude (and all it started) and ends any wait. */
function catchSignals(o: SuperviseOptions, waker: Waker, running: () => Session | null): { signalled: () => string | null; release: () => void } {
  let signalled: string | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = sig;
    const current = running();
    o.say(`${sig}: stopping${current ? ` claude (pid ${current.pid}) and everything it started` : ''}…`);
    waker.interrupt();
    void current?.stop(o.graceS);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return { signalled: () => signalled, release: () => SIGNALS.forEach((s) => process.off(s, onSignal)) };
}

/** An up that did not stop cleanly came before: this first launch is a relaunch, held back by the hourly cap. */
async function restartWait(o: SuperviseOptions, waker: Waker, relaunches: number[], view: LoopView, interrupted: () => boolean): Promise<{ pending: Pending; view: LoopView }> {
  const cap = capWaitMs(relaunches, Date.now(), o.policy.perHour);
  if (cap > 0) {
    o.say(`an earlier up ended without stopping cleanly; at most ${o.policy.perHour} relaunches an hour: starting claude in ${seconds(cap)} (at ${clock(Date.now() + cap)})`);
    view = await waitWatching(o, waker, cap, view, interrupted);
  }
  return { pending: { cause: 'restart', detail: describeCause('restart'), waitMs: cap }, view };
}

export async function supervise(o: SuperviseOptions): Promise<Summary> {
  const { first, lock } = preflight(o);
  // An earlier up that did not stop cleanly: this launch is a relaunch of its loop.
  const restarted = leftBehind(o.root);
  const waker = new Waker();
  let current: Session | null = null;
  const sig = catchSignals(o, waker, () => current);

  const summary: Summary = { code: 0, why: '', sessions: 0, relaunches: [] };
  const bySignal = (sig: string): Summary => ({ ...summary, code: SIGNAL_CODES[sig] ?? 1, why: `stopped by ${sig}` });
  const slugOf = (v: LoopView): string => v.slug ?? first.slug!;
  // The cap counts the relaunches of the last hour in the ledger, whoever started them.
  let history: History = { relaunches: safeRelaunches(o), stalled: 0 };
  let view: LoopView = first;
  // The loop's own conversation (from claude's stream-json), resumed by id on each relaunch.
  let conversation = restarted?.sessionId ?? null;
  let closings = 0;
  let terminatedAs = '';
  let pending: Pending | null = null;
  let clean = false;
  try {
    if (restarted) {
      ({ pending, view } = await restartWait(o, waker, history.relaunches, view, () => sig.signalled() !== null));
      if (sig.signalled()) return (clean = true), bySignal(sig.signalled()!);
      if (!view.live && !wantsSession(view, closings)) return (clean = true), stopWith(o, summary, endCode(view), view.message);
    }
    for (;;) {
      const closing = !view.live;
      if (!view.live) {
        terminatedAs = view.message;
        closings++;
        o.say(`${view.message}: the experiment is not closed; starting a session to close it (${CLOSE_PROMPT}, ${closings} of at most ${MAX_CLOSINGS})`);
      } else closings = 0;
      const runsBefore = view.live ? view.runs : 0;
      // A closing session starts a conversation of its own: the skill reads all it needs from the
      // engine, and the loop's conversation may be past the hooks' cap on calls after termination.
      const resume = closing ? null : usableSessionId(conversation);
      const run = startSession(o, resume, closing ? CLOSE_PROMPT : PROMPT);
      summary.sessions++;
      current = run.session;
      noteSession(o.root, current.pid, resume);
      if (current.pid > 0) o.say(`session ${summary.sessions}: started claude (pid ${current.pid})${resume ? ` resuming conversation ${resume}` : ''} on experiment ${slugOf(view)}`); // no pid: it was never spawned (the line after its end says why)
      if (pending && current.pid > 0) {
        history = { ...history, relaunches: [...history.relaunches, Date.now()] };
        summary.relaunches.push({ cause: pending.cause, wait_s: Math.round(pending.waitMs / 1000) });
        await noteRelaunch(o, slugOf(view), pending, summary.sessions, resume);
      }
      pending = null;
      const exit = await current.done;
      const pid = current.pid;
      current = null;
      const ending = classify(exit, run.observed(), Date.now());
      // The conversation to resume next: this one's (a resume keeps its id); none when it was gone.
      if (ending.cause === 'resume_failed') conversation = null;
      else conversation = usableSessionId(ending.sessionId) ?? conversation;
      noteSession(o.root, pid, conversation);
      if (sig.signalled()) return (clean = true), bySignal(sig.signalled()!);
      o.say(`session ${summary.sessions} ended: ${ending.detail}`);

      view = safeRead(o.root, o.experiment);
      history = afterSession(history, runsBefore, view.live ? view.runs : runsBefore, ending.cause);
      const decision = decide({ ending, loop: view, history, policy: o.policy, nowMs: Date.now(), closings });
      if (decision.action === 'stop') {
        // Closed by the session (finalized and cleared): say which termination it closed.
        const why = closing && !view.live && view.why === 'cleared' ? `${terminatedAs}; the experiment was closed` : decision.why;
        return (clean = true), stopWith(o, summary, decision.code, why);
      }
      pending = { cause: decision.cause, detail: decision.cause === 'unclosed' ? describeCause('unclosed') : ending.detail, waitMs: decision.waitMs };
      sayWait(o, decision);
      view = await waitWatching(o, waker, decision.waitMs, view, () => sig.signalled() !== null);
      if (sig.signalled()) return (clean = true), bySignal(sig.signalled()!);
      if (!view.live && !wantsSession(view, closings)) return (clean = true), stopWith(o, summary, endCode(view), view.message);
    }
  } finally {
    sig.release();
    // Left in place when up fails unexpectedly: the next up knows it is a restart.
    if (clean) forgetSession(o.root);
    lock.release();
  }
}

function safeRelaunches(o: SuperviseOptions): number[] {
  try {
    return recentRelaunches(o.root, Date.now());
  } catch (e) {
    o.say(`warning: could not read the relaunches of the last hour from the ledger: ${(e as Error).message}`);
    return [];
  }
}
