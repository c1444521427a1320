// The overnight supervisor: run claude on the loop, and when a session ends
// while the engine says the loop is live, start it again with --continue
// after the wait the policy decides. Stops for good when the engine says the
// loop is over (terminated, paused, stopped by the user, cleared), and on
// SIGINT/SIGTERM/SIGHUP, ending the running session and everything it started.
import { RefusalError } from '../errors.ts';
import { launch, type Session } from './child.ts';
import { holdSupervisorLock, readLoop, recordRelaunch } from './engine.ts';
import { classify, nothingObserved, observe, seconds, type Cause, type Observed } from './outcome.ts';
import { afterSession, decide, type History, type LoopView, type Policy } from './policy.ts';

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
    return { live: false, slug: pinned ?? null, why: 'cleared', message: `cannot read the experiment: ${(e as Error).message}` };
  }
}

export async function supervise(o: SuperviseOptions): Promise<Summary> {
  const first = readLoop(o.root, o.experiment);
  if (!first.live) throw new RefusalError(`nothing to run: ${first.message}`);
  const lock = holdSupervisorLock(o.root);
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
  let history: History = { relaunches: [], stalled: 0 };
  let view: LoopView = first;
  try {
    for (;;) {
      const runsBefore = view.live ? view.runs : 0;
      summary.sessions++;
      const resume = summary.sessions > 1;
      let obs: Observed = nothingObserved();
      current = launch({
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
      o.say(`session ${summary.sessions}: started claude (pid ${current.pid})${resume ? ' with --continue' : ''} on experiment ${view.slug}`);
      const exit = await current.done;
      current = null;
      if (signalled) return { ...summary, code: SIGNAL_CODES[signalled] ?? 1, why: `stopped by ${signalled}` };
      const ending = classify(exit, obs, Date.now());
      o.say(`session ${summary.sessions} ended: ${ending.detail}`);

      view = safeRead(o.root, o.experiment);
      history = afterSession(history, runsBefore, view.live ? view.runs : runsBefore, ending.cause);
      const decision = decide({ ending, loop: view, history, policy: o.policy, nowMs: Date.now() });
      if (decision.action === 'stop') {
        o.say(decision.code === 0 ? `done: ${decision.why}` : `giving up: ${decision.why}`);
        return { ...summary, code: decision.code, why: decision.why };
      }
      const waitS = Math.round(decision.waitMs / 1000);
      const data = { cause: decision.cause, detail: ending.detail, wait_s: waitS, session: summary.sessions + 1, ...(ending.sessionId ? { session_id: ending.sessionId } : {}) };
      try {
        await recordRelaunch(o.root, view.slug ?? first.slug, data);
      } catch (e) {
        o.say(`warning: could not record the relaunch in the ledger: ${(e as Error).message}`);
      }
      summary.relaunches.push({ cause: decision.cause, wait_s: waitS });
      const why = decision.capped ? `${decision.why} (at most ${o.policy.perHour} relaunches an hour)` : decision.why;
      o.say(`relaunching in ${seconds(decision.waitMs)} (at ${clock(Date.now() + decision.waitMs)}): ${why}`);

      const until = Date.now() + decision.waitMs;
      while (!signalled && Date.now() < until) {
        await waker.sleep(Math.min(POLL_MS, until - Date.now()));
        const now = safeRead(o.root, o.experiment);
        if (!now.live) {
          o.say(`done: ${now.message}`);
          return { ...summary, code: 0, why: now.message };
        }
        view = now;
      }
      if (signalled) return { ...summary, code: SIGNAL_CODES[signalled] ?? 1, why: `stopped by ${signalled}` };
      history = { ...history, relaunches: [...history.relaunches, Date.now()] };
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
    lock.release();
  }
}
