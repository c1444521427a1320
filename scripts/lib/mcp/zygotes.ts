// The MCP server's engine processes: one zygote (dist/zygote.cjs, a Node
// process with the engine loaded up to its main) kept ready, handed each call,
// and replaced once the call has answered, off the call's critical path. Each runs in its own
// process group (a cancel kills the call's whole tree, as the Bash tool's kill
// of a command does), under setpriv --pdeathsig where it is found (a server
// that dies takes its calls with it); an idle one also ends when the IPC
// channel closes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { killGroup } from '../runners/local.ts';
import os from 'node:os';
import { exitMarked, ZYGOTE_ENTRIES, type ZygoteCall } from '../boot/zygote.ts';
import { TEMPLATE_PREFIX, type Next } from '../boot/rehearsal.ts';
import type { Outcome } from './tools.ts';

/** Seconds a cancelled call gets after SIGTERM before its group is killed. */
const GRACE_S = 5;

interface Zygote {
  child: ChildProcess;
  /** The bundles it read (fingerprint): a rebuilt dist/ means a fresh zygote. */
  build: string;
  exited: boolean;
}

/** The files a zygote runs, by inode, size and time: a plugin update or rebuild replaces them. */
export function fingerprint(dist: string): string {
  return ['zygote.cjs', 'engine-loader.cjs', ...ZYGOTE_ENTRIES.map((e) => `${e}.cjs`)]
    .map((f) => {
      try {
        const st = fs.statSync(path.join(dist, f));
        return `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join(',');
}

/** Whether setpriv --pdeathsig works here (checked once, when the server starts). */
function probePdeath(): boolean {
  if (process.platform !== 'linux') return false;
  const r = spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', process.execPath, '-e', '0'], { stdio: 'ignore' });
  return r.status === 0;
}

export class Zygotes {
  private ready: Zygote | null = null;
  private readonly running = new Set<ChildProcess>();
  // Probed with the first zygote, not at the server's start: most sessions never call the engine.
  private pdeath: boolean | null = null;
  private closing = false;

  constructor(private readonly dist: string) {}

  /** Start the first zygote (the server's start, before any call); `next`: the call it rehearses for (boot/rehearsal.ts). */
  warm(next: Next = 'one'): void {
    this.ready ??= this.start(next);
  }

  private start(next: Next = 'one'): Zygote {
    const file = path.join(this.dist, 'zygote.cjs');
    this.pdeath ??= probePdeath();
    const node = [process.execPath, file, ...(next === 'one' ? [] : ['--next', next])];
    const [cmd, args]: [string, string[]] = this.pdeath ? ['setpriv', ['--pdeathsig', 'TERM', '--', ...node]] : [process.execPath, node.slice(1)];
    const build = fingerprint(this.dist);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
    const z: Zygote = { child, build, exited: false };
    child.once('exit', () => {
      z.exited = true;
      if (this.ready === z) this.ready = null;
    });
    // A zygote that cannot start (no dist/, no node) is seen by the call that takes it.
    child.on('error', () => {
      z.exited = true;
    });
    return z;
  }

  /**
   * The zygote for a call; one that is gone or of another build is replaced. The next one starts
   * when the call has answered (call), not now: on a busy machine its start would take CPU from the
   * call, and the model's turn between two calls is time enough.
   */
  private take(): Zygote {
    const z = this.ready;
    this.ready = null;
    if (z && !z.exited && z.build === fingerprint(this.dist)) return z;
    // SIGTERM: a zygote still rehearsing removes its scratch repository as it ends (boot/rehearsal.ts).
    if (z && !z.exited) z.child.kill('SIGTERM');
    return this.start();
  }

  /** Run one engine call in a zygote: its whole output and how it ended. `signal` aborts it (kills its tree). */
  call(entry: ZygoteCall['entry'], argv: string[], signal: AbortSignal): Promise<Outcome> {
    const z = this.take();
    const { child } = z;
    this.running.add(child);
    const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const onAbort = () => void killGroup(child.pid ?? 0, GRACE_S);
    signal.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      let answered = false;
      const done = (code: number | null, sig: string | null, extra = '') => {
        if (answered) return;
        answered = true;
        this.running.delete(child);
        signal.removeEventListener('abort', onAbort);
        const stderr = Buffer.concat(err).toString('utf8');
        const marked = exitMarked(stderr);
        resolve({ code: marked?.code ?? code, signal: marked ? null : sig, stdout: Buffer.concat(out).toString('utf8'), stderr: (marked?.stderr ?? stderr) + extra });
        // After the answer is out (the server writes it in the resolution's turn), unless the server is closing;
        // the next zygote rehearses the call most likely next (boot/rehearsal.ts).
        const next = nextCall(entry, argv, marked?.code ?? code);
        setImmediate(() => this.closing || this.warm(next));
      };
      // A call that told its exit code and closed its output is answered then, before its process is gone.
      let open = 2;
      const ended = () => {
        if (--open === 0 && exitMarked(Buffer.concat(err).toString('utf8'))) done(null, null);
      };
      child.stdout?.once('end', ended);
      child.stderr?.once('end', ended);
      child.once('error', (e) => done(1, null, `engine did not start: ${e.message}\n`));
      child.once('close', (code, sig) => done(code, sig));
      if (!z.exited && child.connected) child.send({ entry, argv, cwd: process.cwd(), env } satisfies ZygoteCall, () => undefined);
    });
  }

  /** The server's end: the idle zygote goes at once, running calls as a cancel would end them. */
  async close(): Promise<void> {
    this.closing = true;
    const idle = this.ready;
    this.ready = null;
    if (idle && !idle.exited) idle.child.kill('SIGTERM');
    await Promise.all([...this.running].map((c) => killGroup(c.pid ?? 0, GRACE_S)));
    removeTemplates();
  }
}

/** After a run to be logged (the two-call form), its log; after a log, the two-call form's next run; else a one-call iteration. */
export function nextCall(entry: ZygoteCall['entry'], argv: readonly string[], code: number | null): Next {
  if (code !== 0) return 'one';
  if (entry === 'run-experiment' && !argv.includes('--description')) return 'log';
  return entry === 'log-experiment' ? 'run' : 'one';
}

/** The rehearsal templates this server's zygotes kept (named by its pid); a server that dies leaves them to the next rehearsal's sweep. */
function removeTemplates(): void {
  try {
    const tmp = fs.realpathSync(os.tmpdir());
    for (const f of fs.readdirSync(tmp)) if (f.startsWith(`${TEMPLATE_PREFIX}${process.pid}-`)) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
  } catch {
    // no temp folder: nothing was kept there
  }
}
