// A real single-node Slurm cluster for the tests: Debian's slurm-wlm and
// munge, slurmctld and slurmd on localhost, started on first use and shared by
// every test file (a running cluster with the same configuration is reused).
//
// Everything lives in one directory under the system temp dir: its own munge
// key and socket, state, spool, logs and slurm.conf, on ports of its own, so it
// never touches a system Slurm. Callers get SLURM_CONF set in process.env; the
// Slurm commands (and the runner under test) then talk to this cluster.
//
// Choices (see references/engine.md "Running on Slurm" for what the runner needs):
// - cons_tres with CR_Core_Memory: --mem is a consumable, DefMemPerCPU keeps
//   a job without --mem from taking the whole node.
// - Where the cgroup v1 memory controller is writable (this container), the
//   cgroup plugins confine each job: a job over --mem ends OUT_OF_MEMORY, as on
//   a real cluster. Elsewhere: proctrack/linuxproc plus jobacct_gather/linux
//   with OverMemoryKill (the job is killed, state FAILED, with Slurm's
//   "Exceeded job memory limit" in its output).
// - No slurmdbd: sacct has no data; MinJobAge keeps finished jobs visible to
//   scontrol for 5 minutes. KillWait is short so cancellations settle fast.
// - Partitions: `debug` (default, never preempted), `scavenger` (preemptable,
//   PreemptMode=CANCEL) and `urgent` (higher tier: a job there preempts
//   scavenger jobs), so preemption can be produced for real.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SlurmCluster {
  dir: string;
  conf: string;
  /** Environment that points the Slurm commands at this cluster. */
  env: { SLURM_CONF: string };
  node: string;
  cpus: number;
}

const DIR = path.join(os.tmpdir(), `autoloop-slurm-${process.getuid?.() ?? 0}`);
const NODE = 'localhost';
const CTLD_PORT = 17817;
const SLURMD_PORT = 17818;
const BINARIES = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch'];

const sleepMs = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { code: number | null; out: string } {
  // Timeouts here only end a hung command; a loaded machine makes Slurm slow.
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 900_000, ...opts });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Debian's slurm-wlm and munge, installed on first use where we may (root with apt-get). */
function ensureInstalled(): void {
  if (BINARIES.every((b) => fs.existsSync(b))) return;
  const root = process.getuid?.() === 0;
  if (root && fs.existsSync('/usr/bin/apt-get')) {
    console.log("installing Debian's slurm-wlm and munge for the Slurm tests (first use)");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update', '-qq'], { timeout: 900_000, env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'slurm-wlm', 'munge'], { timeout: 900_000, env });
  }
  const missing = BINARIES.filter((b) => !fs.existsSync(b));
  if (missing.length > 0) {
    throw new Error(`Slurm is not installed and could not be installed here (missing ${missing.join(', ')}): apt-get install -y slurm-wlm munge`);
  }
}

/** Can this process create a cgroup v1 memory group (as slurmd would)? */
function cgroupV1Usable(): boolean {
  const probe = path.join('/sys/fs/cgroup/memory', `autoloop-probe-${process.pid}`);
  try {
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
    return fs.existsSync('/sys/fs/cgroup/freezer');
  } catch {
    return false;
  }
}

function slurmConf(cgroup: boolean): string {
  const cpus = os.cpus().length;
  // Below the node's real memory, or slurmd reports the node invalid.
  const memMb = Math.floor((os.totalmem() / 2 ** 20) * 0.9);
  const confine = cgroup
    ? ['ProctrackType=proctrack/cgroup', 'TaskPlugin=task/cgroup', 'JobAcctGatherType=jobacct_gather/cgroup']
    : ['ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'JobAcctGatherType=jobacct_gather/linux', 'JobAcctGatherParams=OverMemoryKill'];
  return [
    'ClusterName=autoloop',
    `SlurmctldHost=${NODE}(127.0.0.1)`,
    `SlurmctldPort=${CTLD_PORT}`,
    `SlurmdPort=${SLURMD_PORT}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${DIR}/munge/sock`,
    `StateSaveLocation=${DIR}/ctld`,
    `SlurmdSpoolDir=${DIR}/spool`,
    `SlurmctldPidFile=${DIR}/slurmctld.pid`,
    `SlurmdPidFile=${DIR}/slurmd.pid`,
    `SlurmctldLogFile=${DIR}/log/slurmctld.log`,
    `SlurmdLogFile=${DIR}/log/slurmd.log`,
    ...confine,
    'JobAcctGatherFrequency=1',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core_Memory',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'MpiDefault=none',
    'SchedulerType=sched/backfill',
    'PreemptType=preempt/partition_prio',
    'PreemptMode=CANCEL',
    'ReturnToService=2',
    'MinJobAge=300',
    'KillWait=2',
    'InactiveLimit=0',
    'Waittime=0',
    'SlurmctldTimeout=30',
    'SlurmdTimeout=30',
    'MessageTimeout=10',
    `NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memMb} State=UNKNOWN`,
    `PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=OFF DefMemPerCPU=256`,
    `PartitionName=scavenger Nodes=${NODE} MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=CANCEL DefMemPerCPU=256`,
    `PartitionName=urgent Nodes=${NODE} MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF DefMemPerCPU=256`,
    '',
  ].join('\n');
}

const CGROUP_CONF = [
  'CgroupPlugin=cgroup/v1',
  'CgroupMountpoint=/sys/fs/cgroup',
  'ConstrainRAMSpace=yes',
  'ConstrainSwapSpace=yes',
  'ConstrainCores=no',
  'ConstrainDevices=no',
  '',
].join('\n');

function mungeUp(): boolean {
  return run('munge', ['-n', '-S', `${DIR}/munge/sock`], { stdio: ['ignore', 'ignore', 'pipe'] }).code === 0;
}

function startMunge(): void {
  if (mungeUp()) return;
  const m = path.join(DIR, 'munge');
  fs.mkdirSync(m, { recursive: true, mode: 0o755 });
  fs.chmodSync(m, 0o755); // munged wants its socket's directory searchable by all
  const key = path.join(m, 'key');
  if (!fs.existsSync(key)) fs.writeFileSync(key, crypto.randomBytes(1024), { mode: 0o400 });
  const r = run('munged', [`--socket=${m}/sock`, `--key-file=${key}`, `--pid-file=${m}/pid`, `--log-file=${m}/log`, `--seed-file=${m}/seed`]);
  if (r.code !== 0) throw new Error(`munged did not start: ${r.out}`);
}

function nodeState(env: NodeJS.ProcessEnv): string {
  const r = run('sinfo', ['-h', '-n', NODE, '-o', '%T'], { env, timeout: 120_000 });
  return r.code === 0 ? r.out.split('\n')[0]!.replace(/[*~#!%$@^-]+$/, '') : '';
}

const READY = new Set(['idle', 'mixed', 'allocated', 'completing']);

/** The pid of this directory's daemon when it runs (a stale pid file may name a recycled or zombie pid). */
function daemonPid(name: string): number | null {
  const pidFile = path.join(DIR, `${name}.pid`);
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
  if (!(pid > 1)) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return comm === name && state !== 'Z' ? pid : null;
  } catch {
    return null;
  }
}

/** Stop whatever runs from this directory (a different configuration, or a half-started cluster). */
function stopDaemons(): void {
  for (const name of ['slurmd', 'slurmctld']) {
    const pid = daemonPid(name);
    if (pid === null) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && daemonPid(name) !== null; i++) sleepMs(50);
  }
}

function startCluster(conf: string, env: NodeJS.ProcessEnv): void {
  for (const d of ['ctld', 'spool', 'log']) fs.mkdirSync(path.join(DIR, d), { recursive: true });
  // -c: a fresh controller state; a test cluster carries no jobs across restarts.
  const c = run('slurmctld', ['-c', '-f', conf], { env });
  if (c.code !== 0) throw new Error(`slurmctld did not start: ${c.out}`);
  const d = run('slurmd', ['-f', conf, '-N', NODE], { env });
  if (d.code !== 0) throw new Error(`slurmd did not start: ${d.out}`);
  for (let i = 0; i < 3000; i++) {
    const state = nodeState(env);
    if (READY.has(state)) return;
    if (state === 'down' || state === 'drained') run('scontrol', ['update', `nodename=${NODE}`, 'state=resume'], { env });
    sleepMs(100);
  }
  throw new Error(`the Slurm node did not come up (state ${nodeState(env) || 'unknown'}); see ${DIR}/log`);
}

function withLock<T>(fn: () => T): T {
  const lock = path.join(DIR, 'lock');
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // A holder that died leaves the lock behind: older than two minutes is stale.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) fs.rmSync(lock, { recursive: true, force: true });
      if (i > 3000) throw new Error(`the Slurm test cluster lock is held: ${lock}`);
      sleepMs(100);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

let cached: SlurmCluster | null = null;

/** The running test cluster, started (and installed) on first use. Sets SLURM_CONF in process.env. */
export function ensureSlurm(): SlurmCluster {
  if (cached) return cached;
  ensureInstalled();
  fs.mkdirSync(DIR, { recursive: true, mode: 0o755 });
  fs.chmodSync(DIR, 0o755);
  const conf = path.join(DIR, 'slurm.conf');
  const env = { ...process.env, SLURM_CONF: conf };
  withLock(() => {
    const cgroup = cgroupV1Usable();
    const text = slurmConf(cgroup);
    const same = fs.existsSync(conf) && fs.readFileSync(conf, 'utf8') === text;
    startMunge();
    if (same && daemonPid('slurmctld') && daemonPid('slurmd') && READY.has(nodeState(env))) return; // reuse the running cluster
    stopDaemons();
    fs.writeFileSync(conf, text);
    if (cgroup) fs.writeFileSync(path.join(DIR, 'cgroup.conf'), CGROUP_CONF);
    else fs.rmSync(path.join(DIR, 'cgroup.conf'), { force: true });
    startCluster(conf, env);
  });
  process.env.SLURM_CONF = conf;
  cached = { dir: DIR, conf, env: { SLURM_CONF: conf }, node: NODE, cpus: os.cpus().length };
  return cached;
}

/** Run a Slurm command against the test cluster (as an administrator would), returning its output. */
export function slurmAdmin(cmd: string, args: string[]): { code: number | null; out: string } {
  const c = ensureSlurm();
  return run(cmd, args, { env: { ...process.env, ...c.env }, timeout: 900_000 });
}
