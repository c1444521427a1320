// A reader (status, the status line, the dashboard) writes the state cache
// outside any call, holding the repository's lock for that one small write.
// The loop's run-experiment arriving in that moment waits for it instead of
// refusing. Real processes: the test holds the lock as such a reader does,
// and lets it go once the engine has looked at it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, BRIEF_OWNER } from '../scripts/lib/lock.ts';
import { engine, engineAsync, initValue, valueRepo, waitFor } from './helpers/engine.ts';

/** The lock file's access time (it changes when another process reads who holds it). */
const accessed = (file: string): bigint | null => {
  try {
    return fs.statSync(file, { bigint: true }).atimeNs;
  } catch {
    return null;
  }
};

describe("a reader's state-cache write and the loop's next call", { timeout: 600_000 }, () => {
  it('run-experiment waits for the state-cache writer, then runs', async () => {
    const dir = valueRepo('100');
    expect(initValue(dir).code).toBe(0);
    expect(engine('run-experiment', [], dir).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], dir).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'src/value.txt'), '90');
    const lockFile = path.join(dir, '.autoloop/lock');
    const lock = acquireLock(lockFile, BRIEF_OWNER);
    const before = accessed(lockFile);
    const child = engineAsync('run-experiment', ['--json'], dir);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let code: number | null | undefined;
    const closed = new Promise<void>((resolve) => child.on('close', (c) => ((code = c), resolve())));
    // The engine has read who holds the lock (or already gave up).
    await waitFor(() => code !== undefined || accessed(lockFile) !== before);
    lock.release();
    await closed;
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ status: 'ok', primary: 90 });
  });
});
