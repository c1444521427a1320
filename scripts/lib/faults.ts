// Crash points for the kill -9 tests: a process started with
// AUTOLOOP_CRASH_AT=<name> SIGKILLs itself when it reaches that point, so a
// test can prove what a crash there leaves behind (ledger, tree, snapshots).
// AUTOLOOP_THROW_AT=<name> makes the same point throw an ordinary error
// instead (a write or a git command that failed), for what a failed call
// leaves behind.
export function crashPoint(name: string): void {
  if (process.env.AUTOLOOP_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
  if (process.env.AUTOLOOP_THROW_AT === name) throw new Error(`injected failure at ${name}`);
}

// AUTOLOOP_STOP_AT=<name> makes the process SIGSTOP itself there instead: a
// stand-in for a scheduler that holds it off the CPU at that very point, for
// what another process sees meanwhile (the test resumes or kills it).
export function stopPoint(name: string): void {
  if (process.env.AUTOLOOP_STOP_AT === name) process.kill(process.pid, 'SIGSTOP');
}

// Fault points for the fallback tests: AUTOLOOP_FAULT_AT=<name>[,<name>…] makes
// a real step fail there (e.g. a mount of a path that does not exist), so a
// test can prove the fallback path with real processes.
export function faultAt(name: string): boolean {
  const at = process.env.AUTOLOOP_FAULT_AT;
  return at === name || (at?.includes(',') === true && at.split(',').includes(name));
}

/** The environment without the crash, throw and stop points: for a helper the engine starts, which must not die at the engine's place. */
export function withoutCrashPoints(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.AUTOLOOP_CRASH_AT;
  delete out.AUTOLOOP_THROW_AT;
  delete out.AUTOLOOP_STOP_AT;
  return out;
}
