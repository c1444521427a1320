// Names and tokens that must differ from every other process's (a lock's
// token, a temporary file's name), not be secret: the process id, its start in
// nanoseconds and 52 random bits. Not node:crypto's randomUUID: loading
// node:crypto is a few milliseconds that the calls which take a lock before
// their first git process would pay before it instead of while git runs.
let seq = 0;

export function uniqueId(): string {
  const rand = Math.floor(Math.random() * 2 ** 52).toString(36);
  return `${process.pid.toString(36)}-${process.hrtime.bigint().toString(36)}-${(seq++).toString(36)}-${rand}`;
}
