// Runs `/bin/sh hooks/run.sh <event>` for the hook tests from a small resident
// /bin/sh instead of from the vitest worker. Each call is still a fresh
// /bin/sh process with exactly the environment and working directory the test
// gives, the payload on stdin (a file here, as Claude Code's pipe holds it
// whole), starting whatever the hook starts (the real Node hook, or a fake
// node): only its parent changes. Why: a fork copies the page tables of the
// process that forks, and a vitest worker holds hundreds of MB: a spawnSync
// from a 366 MB Node cost 14-17 ms of the parent's CPU per call at load 5-10,
// against under 1 ms here; the hook tests make a few thousand calls.
//
// Protocol: the test writes the call (env, cwd, event, stdin) to files and a
// line to the request FIFO; the server runs the call and writes its exit code
// to the reply FIFO, which the test reads blocking (as spawnSync blocks). Only
// the server holds a write end of the reply FIFO and only the test one of the
// request FIFO (the hook gets neither): a dead server is an end of file for
// the test, not a hang, and a dead test one for the server, which then ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HookRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

// Static text: the per-call values come from a file (the directory, the script, the event,
// then the environment, one `NAME=value` a line).
const SERVER = `
d=$1
exec 3<"$d/req" 4<>"$d/reply"
while IFS= read -r req <&3 && [ "$req" = go ]; do
  (
    exec 3<&- 4<&-
    {
      IFS= read -r cwd && IFS= read -r script && IFS= read -r event
      while IFS= read -r kv; do export "$kv"; done
    } <"$d/call"
    cd "$cwd" && unset OLDPWD && exec /bin/sh "$script" "$event"
  ) <"$d/in" >"$d/out" 2>"$d/err"
  echo "$?" >&4
done
`;
export class HookServer {
  private readonly dir: string;
  private readonly child: ChildProcess;
  private req = -1;
  private reply = -1;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-hook-server-'));
    const mk = spawnSync('mkfifo', [path.join(this.dir, 'req'), path.join(this.dir, 'reply')]);
    if (mk.status !== 0) throw new Error(`mkfifo failed: ${mk.stderr}`);
    fs.writeFileSync(path.join(this.dir, 'server.sh'), SERVER);
    // An empty environment: each call exports exactly its own.
    this.child = spawn('/bin/sh', [path.join(this.dir, 'server.sh'), this.dir], { env: {}, stdio: 'ignore' });
  }

  /** The hooks' parent process, as Claude Code's process is theirs (run.sh passes it on as AUTOLOOP_CLI_PID). */
  get pid(): number {
    return this.child.pid!;
  }

  /** One hook call; the same result spawnSync('/bin/sh', [script, event], { input, cwd, env }) gives, stdin a file. */
  run(script: string, event: string, input: string, cwd: string, env: Record<string, string | undefined>): HookRun {
    const lines = Object.entries(env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || v.includes('\n')) throw new Error(`hook-server: cannot pass ${k}`);
        return `${k}=${v}\n`;
      });
    for (const v of [cwd, script, event]) if (v.includes('\n')) throw new Error('hook-server: a newline in a path');
    const f = (n: string): string => path.join(this.dir, n);
    fs.writeFileSync(f('call'), `${cwd}\n${script}\n${event}\n${lines.join('')}`);
    fs.writeFileSync(f('in'), input);
    this.open();
    fs.writeSync(this.req, 'go\n');
    const status = Number(this.line());
    return { status, stdout: fs.readFileSync(f('out'), 'utf8'), stderr: fs.readFileSync(f('err'), 'utf8') };
  }

  close(): void {
    if (this.req >= 0) {
      fs.writeSync(this.req, 'quit\n');
      fs.closeSync(this.req);
      fs.closeSync(this.reply);
    } else this.child.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Both FIFOs, once the server holds them (before that, opening the reply FIFO would wait for a writer). */
  private open(): void {
    if (this.req >= 0) return;
    const deadline = Date.now() + 240_000; // ends a hang only: a loaded machine may be slow to start the server
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      try {
        // ENXIO until the server is opening the request FIFO (its open waits for this writer).
        this.req = fs.openSync(path.join(this.dir, 'req'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw e;
        Atomics.wait(sleeper, 0, 0, 5);
      }
    }
    // The server opens both in one step: it holds the reply FIFO now.
    this.reply = fs.openSync(path.join(this.dir, 'reply'), 'r');
  }

  /** One line from the reply FIFO, blocking; end of file: the server is gone. */
  private line(): string {
    let text = '';
    const buf = Buffer.alloc(64);
    while (!text.endsWith('\n')) {
      const n = fs.readSync(this.reply, buf, 0, buf.length, null);
      if (n === 0) throw new Error('hook-server: the resident shell is gone');
      text += buf.toString('utf8', 0, n);
    }
    return text.trim();
  }
}
