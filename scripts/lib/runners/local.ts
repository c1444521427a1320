// The local runner: the user's command on this machine, supervised so that
// nothing outlives a run and memory stays flat whatever the command prints.
//
// - The command gets its own process group (detached = setsid), so one signal
//   to -pgid reaches everything it forked, including background servers.
// - Kill sequence: SIGTERM (+SIGCONT so stopped members can act on it), poll
//   until the group is empty or the grace ends, SIGKILL, poll ≤ 0.5 s, report
//   whoever is still alive. It runs on timeout, on abort, and after a normal
//   exit when background members remain.
// - The child writes straight into the log's file descriptor: no pipe through
//   this process (no buffering, and the output still lands in the log if the
//   engine is SIGKILLed). The result names the sample's byte range of the log,
//   ending when the main process exited; what the output means is the metric
//   sources' business, not the runner's.
// - A member that leaves the group (setsid, a daemon) is contained as
//   containment.ts describes: a PID namespace where the machine allows one,
//   else found by a token in its environment.
// - Where the machine allows it, the engine's state and the judges the request
//   names are read-only to the command (readonly.ts); a setup that fails
//   falls back to the PID namespace alone, for this run and the rest of the call.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { groupMembers, pidAlive, procStart } from '../procs.ts';
import { crashPoint, faultAt } from '../faults.ts';
import { commandFailed, containment, readOnlyIds, TOKEN_VAR, tokenHolders, withParentDeath, wrap, type Containment, type RunContainment } from './containment.ts';
import { existingPaths, mountPlan, readOnlyFailed, readOnlyForced, readOnlyWanted, setupOutcome, wrapReadOnly, writeFstab } from './readonly.ts';
import { openLog, readTail } from './log.ts';
import { closeLeakedDescriptors } from './leaked-fds.ts';
import { emptyResult, type RunHandle, type RunRequest, type RunResult, type Runner } from './types.ts';

/** Monotonic milliseconds, as performance.now() but without loading perf_hooks into every run's start-up. */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * After SIGKILL, how long the kernel gets to take the group down before what
 * is left counts as survivors (a crash: the run is not measured). Waited only
 * while something is left; half a second was short on a saturated machine.
 */
const REAP_WAIT_MS = 5000;
const POLL_MS = 20;
/** setTimeout overflows past 2^31-1 ms (it would fire at once); longer means "no timeout". */
const MAX_TIMER_MS = 2_147_483_647;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- process groups

/** Send a signal to a whole group; false when the group has no member left at all. */
function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    // EPERM: a member exists but is not ours (setuid); it still counts as present.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Live pids whose process group is pgid, zombies excluded (a zombie holds no
 * resources; it only waits for its parent, possibly a PID 1 that never reaps).
 * Without /proc, the group can only be probed as a whole: [pgid] stands for
 * "something in the group is still there".
 */
export function groupSurvivors(pgid: number): number[] {
  if (!Number.isInteger(pgid) || pgid <= 1) return [];
  // Cheap probe first: ESRCH means not even a zombie is left, skip the scan.
  if (!signalGroup(pgid, 0)) return [];
  return groupMembers(pgid) ?? [pgid];
}

/**
 * SIGTERM the group, wait up to graceS for it to go, SIGKILL, wait ≤ 0.5 s
 * for the kernel, and return the pids still alive (empty when clean).
 */
export async function killGroup(pgid: number, graceS: number, spareLeader = false): Promise<number[]> {
  if (!Number.isInteger(pgid) || pgid <= 1) return [];
  if (spareLeader) {
    // The leader is unshare (SIGTERM would end it and with it the namespace, at once) or the group's
    // engine-death shell (it would end before the command, cutting the run's log and duration short).
    // The members get SIGTERM and the grace; SIGKILL then goes to the whole group.
    const members = groupMembers(pgid) ?? [];
    if (!members.length && !signalGroup(pgid, 0)) return [];
    for (const pid of members) if (pid !== pgid) signalPid(pid, 'SIGTERM');
    for (const pid of members) if (pid !== pgid) signalPid(pid, 'SIGCONT');
  } else {
    if (!signalGroup(pgid, 'SIGTERM')) return [];
    signalGroup(pgid, 'SIGCONT');
  }
  const graceEnd = Date.now() + Math.max(0, graceS) * 1000;
  for (;;) {
    if (groupSurvivors(pgid).length === 0) return [];
    const left = graceEnd - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(POLL_MS, left));
  }
  signalGroup(pgid, 'SIGKILL');
  const reapEnd = Date.now() + REAP_WAIT_MS;
  for (;;) {
    const alive = groupSurvivors(pgid);
    if (alive.length === 0) return [];
    const left = reapEnd - Date.now();
    if (left <= 0) return alive;
    await sleep(Math.min(10, left));
  }
}

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(os.constants.signals)) if (num === n) return name;
  return null;
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/**
 * Processes that left the group but carry the run's token: SIGTERM, a short
 * grace, SIGKILL; start times guard against a pid reused meanwhile.
 */
export async function killTokenHolders(token: string | undefined, graceS: number): Promise<number[]> {
  if (!token) return [];
  const found = tokenHolders(token).map((pid) => ({ pid, start: procStart(pid) }));
  if (!found.length) return [];
  const live = () => found.filter((p) => pidAlive(p.pid, p.start));
  for (const p of live()) signalPid(p.pid, 'SIGTERM');
  const end = Date.now() + Math.min(graceS, 2) * 1000;
  while (live().length && Date.now() < end) await sleep(POLL_MS);
  for (const p of live()) signalPid(p.pid, 'SIGKILL');
  const reapEnd = Date.now() + REAP_WAIT_MS;
  while (live().length && Date.now() < reapEnd) await sleep(10);
  return live().map((p) => p.pid);
}

/** The group a handle names, unless its leader's pid was recycled by a newer process (then it is not ours). */
function ownGroup(handle: RunHandle): number | null {
  if (handle.runner !== 'local' || !handle.pgid) return null;
  const recycled = handle.start !== null && pidAlive(handle.pgid) && !pidAlive(handle.pgid, handle.start);
  return recycled ? null : handle.pgid;
}

// ---------------------------------------------------------------- the run

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function cwdProblem(cwd: string): string | null {
  try {
    if (!fs.statSync(cwd).isDirectory()) return `cwd is not a directory: ${cwd}`;
    return null;
  } catch (err) {
    return `cwd does not exist or is unreadable: ${cwd} (${(err as NodeJS.ErrnoException).code ?? describe(err)})`;
  }
}

function logSize(file: string, fallback: number): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return fallback; // the log vanished mid-run
  }
}

interface Supervision {
  timedOut: boolean;
  interrupted: boolean;
  /** The kill sequence, once started (by the timeout, the abort, or leftovers). */
  killing: Promise<number[]> | null;
  stop(): void;
}

/** Arm the timeout and the abort signal: either starts the kill sequence once. */
function supervise(pgid: number, req: RunRequest, leader: boolean): Supervision {
  const s: Supervision = { timedOut: false, interrupted: false, killing: null, stop: () => undefined };
  const startKill = (why: 'timedOut' | 'interrupted'): void => {
    if (s.killing) return;
    s[why] = true;
    s.killing = killGroup(pgid, req.graceS, leader);
  };
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = Math.max(0, req.timeoutS) * 1000;
  if (Number.isFinite(timeoutMs) && timeoutMs <= MAX_TIMER_MS) timer = setTimeout(() => startKill('timedOut'), timeoutMs);
  const onAbort = (): void => startKill('interrupted');
  req.signal?.addEventListener('abort', onAbort, { once: true });
  // Aborted while the read-only setup was being waited for: the listener above would never fire.
  if (req.signal?.aborted) onAbort();
  s.stop = () => {
    if (timer) clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
  };
  return s;
}

/** How the main process ended, or why it never started. */
interface Exit {
  code: number | null;
  sig: string | null;
  error: string | null;
}

/** A command spawned into its own group, writing into the log from byte `start` on. */
interface Launched {
  child: ChildProcess;
  ended: Promise<Exit>;
  mode: Containment;
  /** The group's leader is unshare or the engine-death shell, not the command: spared during the grace, its exit status 128+n for a signal n. */
  leader: boolean;
  /** Under the read-only setup: resolves true once it is complete, false when it failed (the command never started). */
  setup: Promise<boolean> | null;
  token: string;
  /** nowMs() just before the spawn. */
  t0: number;
  start: number;
}

/** Note in the log why the command was not started, close the log, and return the result carrying the reason. */
function refusal(fd: number, start: number, reason: string, extra: Partial<RunResult> = {}): RunResult {
  try {
    fs.writeSync(fd, `watchdog: not started: ${reason}\n`);
  } catch {
    // the result carries the reason anyway
  }
  fs.closeSync(fd);
  return emptyResult({ spawnError: reason, log: { start, end: start }, ...extra });
}

/** Resolves with the exit status, or with the spawn error if the OS refused. */
function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise<Exit>((resolve) => {
    child.once('exit', (code, sig) => resolve({ code, sig, error: null }));
    child.on('error', (err) => {
      if (child.pid === undefined) resolve({ code: null, sig: null, error: describe(err) });
    });
  });
}

/**
 * Before the spawn, the token alone (pgid 0: no group yet): a scheduler may hold the engine off the CPU
 * between the spawn and announce() while the command runs, and an engine killed there must still leave
 * a handle that finds the work (control repair kills what carries the token).
 */
function preannounce(req: RunRequest, token: string): void {
  try {
    req.onStart?.({ runner: 'local', pgid: 0, start: null, token });
  } catch {
    // announce() tries again once the group exists
  }
}

/** Tell the caller where the work is (onStart), once it exists. */
function announce(req: RunRequest, run: Launched): void {
  const pgid = run.child.pid;
  if (pgid === undefined) return;
  try {
    req.onStart?.({ runner: 'local', pgid, start: procStart(pgid), token: run.token });
  } catch {
    // a failing callback must not leave the command unsupervised
  }
}

function processContainment(): Containment | null {
  try {
    return containment();
  } catch {
    return null;
  }
}

/** The read-only setup's spawn, when the request names what to protect and this call still wants it. */
function readOnlySpawn(req: RunRequest, mode: Containment, wanted: boolean): { file: string; args: string[]; tab: string } | null {
  const ids = readOnlyIds();
  if (!wanted || mode !== 'pidns' || !req.protect || !ids) return null;
  const [cwd] = existingPaths([req.cwd]);
  const plan = mountPlan({ readOnly: existingPaths(req.protect.readOnly), writable: existingPaths([...req.protect.writable, req.cwd]) });
  // The fallback tests: a real mount that fails (its target does not exist).
  if (faultAt('readonly-setup')) plan.push({ mode: 'ro', path: `${cwd}/.autoloop-no-such-path` });
  if (!cwd || !plan.length) return null;
  // The plan goes beside the run's log (a folder the engine writes), read once by the setup's mount.
  const tab = writeFstab(req.logFile, plan);
  return { ...withParentDeath(wrapReadOnly(req.command, cwd, tab, plan, ids)), tab };
}

/** Open the log, check the request and spawn the command: the launched run, or the result of one that never started. */
function launch(req: RunRequest, readOnly: boolean): Launched | RunResult {
  let fd: number;
  try {
    fd = openLog(req.logFile, req.header);
  } catch (err) {
    return emptyResult({ spawnError: `cannot open log ${req.logFile}: ${describe(err)}` });
  }
  const start = fs.fstatSync(fd).size;
  if (req.signal?.aborted) return refusal(fd, start, 'interrupted before start', { spawnError: null, interrupted: true });
  const bad = cwdProblem(req.cwd);
  if (bad) return refusal(fd, start, bad);

  let mode: Containment;
  try {
    mode = containment();
  } catch (err) {
    return refusal(fd, start, describe(err));
  }
  const token = randomBytes(12).toString('hex');
  // The caller's descriptors must not reach the code under test (leaked-fds.ts).
  closeLeakedDescriptors();
  preannounce(req, token);
  const t0 = nowMs();
  let child: ChildProcess;
  let ro: ReturnType<typeof readOnlySpawn>;
  const wrapped = wrap(mode, req.command);
  try {
    ro = readOnlySpawn(req, mode, readOnly);
  } catch (err) {
    return refusal(fd, start, `cannot write the read-only setup's plan: ${describe(err)}`);
  }
  try {
    // detached: setsid, a group of its own, reachable as -pid.
    const { file, args } = ro ?? wrapped;
    // Descriptor 3: the read-only setup says there that it is complete (closed before the command starts).
    const stdio: Array<'ignore' | 'pipe' | number> = ro ? ['ignore', fd, fd, 'pipe'] : ['ignore', fd, fd];
    child = spawn(file, args, { cwd: req.cwd, env: { ...req.env, [TOKEN_VAR]: token }, detached: true, stdio });
  } catch (err) {
    if (ro) fs.rmSync(ro.tab, { force: true });
    return refusal(fd, start, describe(err));
  }
  const ended = exitOf(child);
  fs.closeSync(fd); // the child holds its own copy of the descriptor now
  // The plan is read before the setup reports, or never: gone once the setup has settled.
  const setup = ro ? setupOutcome(child).finally(() => fs.rmSync(ro.tab, { force: true })) : null;
  // The command runs from here on, before announce() records its group: an engine killed now (test/handle-before-spawn).
  crashPoint('runner:spawned');
  return { child, ended, mode, leader: ro !== null || wrapped.leader, setup, token, t0, start };
}

/**
 * Launch, behind the read-only setup where wanted. A setup that failed never
 * started the command: launched again without it (the log says why), unless
 * AUTOLOOP_CONTAINMENT=readonly demands it. Resolves with the launched run and
 * whether the setup is in force.
 */
async function startRun(req: RunRequest): Promise<{ run: Launched | RunResult; readOnly: boolean }> {
  if (readOnlyForced() && req.protect && processContainment() !== 'pidns') {
    return { run: emptyResult({ spawnError: 'AUTOLOOP_CONTAINMENT=readonly but this machine allows no user and PID namespace' }), readOnly: false };
  }
  const wanted = readOnlyWanted() && req.protect !== undefined && processContainment() === 'pidns';
  // A user who is not root with an unshare that cannot map chosen ids: no setup to try.
  if (wanted && readOnlyIds() === null) return withoutReadOnly(req, UNMAPPED, null);
  const first = launch(req, readOnlyWanted());
  if (!('child' in first) || !first.setup) return { run: first, readOnly: false };
  // Recorded before the wait, so that a crash of the engine meanwhile leaves a handle to find it by.
  announce(req, first);
  if (await first.setup) return { run: first, readOnly: true };
  await first.ended;
  return withoutReadOnly(req, 'the read-only setup failed (above)', first.start);
}

const UNMAPPED = "the read-only setup needs unshare's --map-user (util-linux 2.38 or later) for a user who is not root";

/** The read-only setup cannot be had (why): this engine call's runs go on without it, said in the log, unless AUTOLOOP_CONTAINMENT=readonly demands it. */
function withoutReadOnly(req: RunRequest, why: string, start: number | null): { run: Launched | RunResult; readOnly: false } {
  readOnlyFailed();
  if (readOnlyForced()) return { run: emptyResult({ spawnError: `AUTOLOOP_CONTAINMENT=readonly but ${why}`, ...(start === null ? {} : { log: { start, end: start } }) }), readOnly: false };
  return { run: launch({ ...req, header: `watchdog: ${why}; the run goes on without it` }, false), readOnly: false };
}

/**
 * Once the main process is gone: the kill sequence if it has not run and
 * background members remain, then whatever left the group but carries the
 * token. Returns the pids that could not be killed.
 */
async function reapLeftovers(pgid: number, sup: Supervision, req: RunRequest, run: Launched): Promise<number[]> {
  // After a normal exit, background members may remain: same kill sequence.
  if (!sup.killing && groupSurvivors(pgid).length > 0) sup.killing = killGroup(pgid, req.graceS, run.leader);
  const survivors = sup.killing ? await sup.killing : [];
  // Whatever left the group (setsid, a daemon) but still carries the token. Not under a PID
  // namespace: nothing leaves it, and its end killed what was left (a scan of every /proc/<pid>/environ saved).
  if (run.mode !== 'pidns') survivors.push(...(await killTokenHolders(run.token, req.graceS)));
  // Once each: a member that had not left the group yet is found both ways.
  return [...new Set(survivors)];
}

/** The log's last lines from the sample's start; empty when the log vanished or was truncated mid-run. */
function sampleTail(file: string, start: number, end: number): string {
  try {
    return readTail(file, start, logSize(file, end));
  } catch {
    return '';
  }
}

/** Run one command under supervision. Never throws for a failing command. */
export async function runLocal(req: RunRequest): Promise<RunResult> {
  const { run, readOnly } = await startRun(req);
  if (!('child' in run)) return run;
  const { mode, start } = run;
  const pgid = run.child.pid;
  if (pgid === undefined) {
    const r = await run.ended;
    return emptyResult({ spawnError: r.error ?? 'spawn failed', durationS: (nowMs() - run.t0) / 1000, log: { start, end: start } });
  }
  const sup = supervise(pgid, req, run.leader);
  if (!readOnly) announce(req, run);

  const r = await run.ended;
  const durationS = (nowMs() - run.t0) / 1000;
  const end = logSize(req.logFile, start); // the sample ends with its main process
  sup.stop();
  const survivors = await reapLeftovers(pgid, sup, req, run);
  const tail = sampleTail(req.logFile, start, end);
  // Under the PID namespace (and under the group's engine-death leader) the first process is a shell that passes on 128+n for a signal n.
  const bySignal = run.leader && r.code !== null && r.code > 128 ? signalName(r.code - 128) : null;
  if (r.code !== 0) commandFailed(mode);
  return {
    exitCode: bySignal ? null : r.code,
    signal: bySignal ?? r.sig,
    timedOut: sup.timedOut,
    interrupted: sup.interrupted,
    spawnError: r.error,
    durationS,
    queuedS: 0,
    survivors: survivors.map(String),
    log: { start, end },
    tail,
    containment: (readOnly ? 'readonly' : mode) satisfies RunContainment,
  };
}

export const localRunner: Runner = {
  name: 'local',
  run: runLocal,
  async survivors(handle) {
    const pgid = ownGroup(handle);
    const token = handle.runner === 'local' ? handle.token : undefined;
    const all = new Set([...(pgid === null ? [] : groupSurvivors(pgid)), ...(token ? tokenHolders(token) : [])]);
    return [...all].map(String);
  },
  async cancel(handle, graceS) {
    const pgid = ownGroup(handle);
    const left = pgid === null ? [] : await killGroup(pgid, graceS);
    left.push(...(await killTokenHolders(handle.runner === 'local' ? handle.token : undefined, graceS)));
    return left.map(String);
  },
};
