// What a measurement is sure to need and Node loads on first use: node:crypto
// (blob ids, fingerprints) and node:zlib (the capture's loose objects), with
// their first hash and deflate (each first call compiles Node's own code for
// it). Started while the run's first git processes work, on the main thread
// that would otherwise wait for them: a couple of milliseconds of a call moved
// off its path on a machine with a free core. Nothing here reads or writes
// anything of the experiment; a failure is left to the real first use.
import { createHash } from 'node:crypto';
import { zlib } from './loose-object.ts';

let warmed = false;

export function warmForRun(): void {
  if (warmed) return;
  warmed = true;
  try {
    createHash('sha1').update('').digest();
    createHash('sha256').update('').digest();
    zlib().deflateSync(Buffer.alloc(0), { level: 1 });
  } catch {
    // the real use reports it
  }
}
