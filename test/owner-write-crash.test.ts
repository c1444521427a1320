// A folder the user's code made read-only gets the owner-write bit lent for
// the engine's write in it (owner-write.ts); an engine killed between the lend
// and the restore left it owner-writable for good. The lend is noted first
// (owner-write-journal.ts), so the next call puts the mode back. Real engine,
// as `nobody` (root never lends), killed at the crash point right after the lend.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/engine.ts';
import { hasSetpriv, isRoot, makeUser, NOBODY } from './helpers/as-user.ts';

const BENCH = 'read -r v < src/v\necho "METRIC score=$v"\n';
const mode = (dir: string, rel: string) => (fs.statSync(path.join(dir, rel)).mode & 0o777).toString(8);

describe.skipIf(!isRoot || !hasSetpriv)('a kill between the lend of the owner-write bit and its restore', { timeout: 900_000 }, () => {
  it('leaves a note; the next call puts the read-only mode back', () => {
    const user = makeUser(NOBODY);
    const repo = user.repo('owner-write-crash', () => makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n', 'src/ro/f': 'f\n' }));
    const init = user.engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
    expect(init.stderr).toBe('');
    expect(user.engine('run-experiment', ['-d', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    // A worse candidate that adds a file in a read-only folder: its discard must write there.
    user.sh(repo, 'echo 12 > src/v; echo h > src/ro/h; chmod 555 src/ro');
    const killed = user.engine('run-experiment', ['-d', 'worse', '--json'], repo, { env: { AUTOLOOP_CRASH_AT: 'owner-write:lent' } });
    expect(killed.code).not.toBe(0);
    expect(mode(repo, 'src/ro')).toBe('755'); // the kill came while the bit was lent
    expect(fs.readdirSync(path.join(repo, '.autoloop/owner-lent')).filter((n) => n.endsWith('.json'))).toHaveLength(1);
    const next = user.engine('run-experiment', ['-d', 'again', '--json'], repo);
    expect(next.stderr).toContain('put back the mode 555 of src/ro');
    expect(mode(repo, 'src/ro')).toBe('555');
    expect(fs.readdirSync(path.join(repo, '.autoloop/owner-lent'))).toEqual([]);
  });
});
