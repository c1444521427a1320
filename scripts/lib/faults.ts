// Crash points for the kill -9 tests: with AUTOLOOP_KILL_AT=<name> in the
// environment, the process SIGKILLs itself when it reaches that point, so a
// test can prove the ledger and the tree survive a kill at every step.
export function crashPoint(name: string): void {
  if (process.env.AUTOLOOP_KILL_AT === name) process.kill(process.pid, 'SIGKILL');
}
