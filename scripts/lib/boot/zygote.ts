// A pre-started engine process for the plugin's MCP server (scripts/mcp.ts):
// Node started, the built-ins every iteration loads already loaded, the hot
// bundles read, waiting for one call's argv, cwd and env over the IPC channel.
// Then it becomes that call exactly as the CLI would run it (same bundle, same
// main, same exit code, locks, crash points and signals): the server only
// spares the per-process start. An idle zygote ends when its server goes (the
// channel closes), so it never lingers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readBundle, type Bundle } from './code-cache.ts';
import { stopPoint } from '../faults.ts';
import { NEXT, rehearse, type Next, type RehearsalOptions, type Rehearsed } from './rehearsal.ts';

/** The entry points a zygote can become (the hot ones: one or two per iteration). */
export const ZYGOTE_ENTRIES = ['run-experiment', 'log-experiment', 'status'] as const;
export type ZygoteEntry = (typeof ZYGOTE_ENTRIES)[number];

/**
 * The last bytes of a call's stderr: its exit code, told as the call ends
 * (process.exit's last step), before Node takes itself down (thread joins and
 * frees, several ms). NUL never reaches the engine's own output (sanitize.ts):
 * no text the engine prints can end like this.
 */
const EXIT_MARK = '\u0000autoloop-exit ';

/** The exit code a call's stderr ends with, and the stderr without it; null when it has none (a kill, a crash). */
export function exitMarked(stderr: string): { code: number; stderr: string } | null {
  const at = stderr.lastIndexOf(EXIT_MARK);
  const code = at < 0 ? '' : stderr.slice(at + EXIT_MARK.length);
  return /^\d{1,3}\n$/.test(code) ? { code: Number(code), stderr: stderr.slice(0, at) } : null;
}

/** What the server sends: one call. */
export interface ZygoteCall {
  entry: ZygoteEntry;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The message's shape, checked by hand: the loader bundle stays free of zod (it starts every call). */
export function parseCall(m: unknown): ZygoteCall | null {
  if (typeof m !== 'object' || m === null) return null;
  const { entry, argv, cwd, env } = m as Record<string, unknown>;
  if (!ZYGOTE_ENTRIES.includes(entry as ZygoteEntry)) return null;
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) return null;
  if (typeof cwd !== 'string' || typeof env !== 'object' || env === null) return null;
  if (!Object.values(env).every((v) => typeof v === 'string')) return null;
  return { entry: entry as ZygoteEntry, argv: argv as string[], cwd, env: env as Record<string, string> };
}

/**
 * Load ahead what every iteration loads anyway (the engine's lazy wrappers then
 * find it loaded): the built-ins, and the parts of them Node loads on first use
 * (the flag parser, file streams, recursive rm, directory handles, the signal
 * wrapper), each compiled on first use otherwise, in the call's time.
 */
function loadBuiltins(): void {
  for (const m of ['node:child_process', 'node:crypto', 'node:zlib', 'node:os', 'node:readline', 'node:fs/promises', 'node:stream/promises']) require(m);
  void require('node:util').parseArgs;
  void fs.ReadStream;
  void fs.Dir;
  fs.rmSync(path.join(os.tmpdir(), `autoloop-zygote-none-${process.pid}`, 'x'), { recursive: true, force: true });
  const none = (): void => undefined;
  process.on('SIGWINCH', none).off('SIGWINCH', none);
  // First uses that initialise native state (OpenSSL's digests, zlib's allocations): every keep hashes and deflates.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  for (const algo of ['sha1', 'sha256']) createHash(algo).update('').digest();
  const zlib = require('node:zlib') as typeof import('node:zlib');
  zlib.inflateSync(zlib.deflateSync(Buffer.from('blob 0\0')));
}

/** Start and reap one trivial child process (as the engine's git calls are started: piped). Never fails. */
function warmSpawn(): Promise<void> {
  return new Promise((resolve) => {
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    try {
      const c = spawn('/bin/sh', ['-c', ':'], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.once('error', () => resolve());
      c.once('close', () => resolve());
    } catch {
      resolve();
    }
  });
}

/**
 * At process.exit's last step (every 'exit' listener has run: locks released,
 * caches written), tell the exit code on stderr and close stdout and stderr:
 * the server answers then, while Node tears itself down.
 */
function answerBeforeTeardown(): void {
  const proc = process as unknown as { reallyExit(code?: number): never };
  const exit = proc.reallyExit.bind(process);
  proc.reallyExit = (code?: number) => {
    try {
      fs.writeSync(2, `${EXIT_MARK}${(code ?? 0) & 0xff}\n`);
      fs.closeSync(1);
      fs.closeSync(2);
    } catch {
      // the server waits for the process instead
    }
    stopPoint('zygote:teardown'); // a teardown that takes long: the answer is out already (test/mcp-server)
    return exit(code);
  };
}

/** Take on the call's process state, as if Node had been started for it. */
function become(dir: string, call: ZygoteCall): void {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, call.env);
  process.chdir(call.cwd);
  // argv[1] is the documented command: tamper.ts engineDir() resolves the engine's folder from it.
  process.argv = [process.execPath, path.join(dir, `${call.entry}.mjs`), ...call.argv];
}

/** What a zygote is given: how to prepare each bundle, run its call, and the command to rehearse with (rehearsal.ts). */
export interface ZygoteParts<P> {
  prepare: (entry: ZygoteEntry, bundle: Bundle) => P;
  run: (entry: ZygoteEntry, argv: string[], bundle: Bundle, prepared: P) => void;
  rehearsal: (prepared: ReadonlyMap<ZygoteEntry, P>) => Rehearsed | null;
}

/**
 * Read and `prepare` (compile) every bundle, rehearse, wait for one call, then run it through `run` (loader.ts). The channel is
 * closed before the engine starts: no descriptor of it reaches a process the
 * engine spawns, and the event loop ends when the engine's work does.
 */
export function zygote<P>(dir: string, tag: string, { prepare, run, rehearsal }: ZygoteParts<P>): void {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write('zygote: started without an IPC channel (the MCP server starts it)\n');
    process.exitCode = 2;
    return;
  }
  loadBuiltins();
  const bundles = new Map(ZYGOTE_ENTRIES.map((e) => [e, readBundle(path.join(dir, `${e}.cjs`), tag)]));
  const prepared = new Map(ZYGOTE_ENTRIES.map((e) => [e, prepare(e, bundles.get(e)!)]));
  const called = new AbortController();
  const trace = tracer(process.env.AUTOLOOP_REHEARSAL_TRACE);
  const options = { next: expected(process.argv.slice(2)), server: process.ppid > 1 ? process.ppid : null, build: buildOf(bundles.get('run-experiment')!), trace };
  // Ready once a first child process has come and gone (the call's first spawn finds the pipes' and the
  // exit signal's machinery set up) and the rehearsal is over; a call that comes first stops it at its next step.
  const ahead = warmSpawn().then(() => rehearsalOf(() => rehearsal(prepared), dir, called.signal, options));
  void ahead.then((rehearsed) => process.connected && send({ ready: true, rehearsed }, () => undefined));

  const idle = (): never => process.exit(0);
  process.once('disconnect', idle);
  process.once('message', (m: unknown) => {
    trace('call');
    called.abort();
    void ahead.then(() => {
      const call = parseCall(m);
      process.off('disconnect', idle);
      if (!call || !fs.existsSync(call.cwd)) {
        process.stderr.write(`zygote: ${call ? `no folder ${call.cwd}` : 'a malformed call'}\n`);
        return process.exit(2);
      }
      process.once('disconnect', () => {
        become(dir, call);
        answerBeforeTeardown();
        trace('start');
        run(call.entry, call.argv, bundles.get(call.entry)!, prepared.get(call.entry)!);
      });
      process.disconnect?.();
    });
  });
}

/** The call the server expects next (`--next log`: the last call was a run to log; `--next run`: a log), from the zygote's argv. */
export function expected(argv: readonly string[]): Next {
  return argv[0] === '--next' && NEXT.includes(argv[1] as Next) ? (argv[1] as Next) : 'one';
}

/** The build's hash, from a bundle's cache key (null without one: then no templates). */
const buildOf = (bundle: Bundle): string | null => /^[0-9a-f]{16}/.exec(bundle.key ?? '')?.[0] ?? null;

/** AUTOLOOP_REHEARSAL_TRACE=<file>: the rehearsal's steps and the call's arrival, a line each (tests read the order). */
function tracer(file: string | undefined): (event: string) => void {
  return (event) => {
    try {
      if (file) fs.appendFileSync(file, `${event}\n`);
    } catch {
      // a trace is only a trace
    }
  };
}

/** The rehearsal, unless the server's environment turns it off (AUTOLOOP_REHEARSAL=0) or there is no command to rehearse. */
function rehearsalOf(rehearsal: () => Rehearsed | null, dir: string, called: AbortSignal, options: RehearsalOptions): Promise<number> {
  if (process.env.AUTOLOOP_REHEARSAL === '0' || called.aborted) return Promise.resolve(0);
  const commands = rehearsal();
  // No temp folder to rehearse in, or anything else: the call runs colder, never later.
  return commands ? rehearse(commands, dir, called, options).catch(() => 0) : Promise.resolve(0);
}
