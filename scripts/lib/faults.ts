// Crash points for the kill -9 tests: a process started with
// AUTOLOOP_CRASH_AT=<name> SIGKILLs itself when it reaches that point, so a
// test can prove what a crash there leaves behind (ledger, tree, snapshots).
export function crashPoint(name: string): void {
  if (process.env.AUTOLOOP_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}
