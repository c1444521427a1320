// The judges are checked after every sample; a file is hashed again only when its stat
// signature moved, or when it changed so recently that a later write could share its
// timestamp (the racy rule). Real files; the clock is passed in, never waited for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { judgeHash, RACY_MS } from '../scripts/lib/judge-hashes.ts';
import { sha256File } from '../scripts/lib/integrity.ts';
import { engine, makeRepo } from './helpers/engine.ts';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function judge(bytes: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-judge-hash-'));
  dirs.push(dir);
  const file = path.join(dir, 'score.py');
  fs.writeFileSync(file, bytes);
  return file;
}

/** A clock far enough ahead that the file's last change is no longer racy. */
const later = () => Date.now() + 10 * RACY_MS;

describe('judgeHash', () => {
  it('an untouched judge is not read again', () => {
    const file = judge('print(1)\n');
    expect(judgeHash(file, later())).toBe(sha256File(file));
    const opened = vi.spyOn(fs, 'openSync');
    expect(judgeHash(file, later())).toBe(sha256File(file));
    // sha256File above opened it once; judgeHash did not.
    expect(opened).toHaveBeenCalledTimes(1);
  });

  it('a rewrite of the same size is seen (its ctime moved)', () => {
    const file = judge('print(1)\n');
    const before = judgeHash(file, later());
    fs.writeFileSync(file, 'print(2)\n');
    const after = judgeHash(file, later());
    expect(after).toBe(sha256File(file));
    expect(after).not.toBe(before);
  });

  it('a rename over it, a chmod and a removal are seen', () => {
    const file = judge('print(1)\n');
    judgeHash(file, later());
    const other = path.join(path.dirname(file), 'other');
    fs.writeFileSync(other, 'print(3)\n');
    fs.renameSync(other, file);
    expect(judgeHash(file, later())).toBe(sha256File(file));
    fs.rmSync(file);
    expect(judgeHash(file, later())).toBeNull();
    fs.writeFileSync(file, 'print(1)\n');
    expect(judgeHash(file, later())).toBe(sha256File(file));
  });

  it('a judge changed just before it was looked at is read every time (a write in the same tick keeps the timestamp)', () => {
    const file = judge('print(1)\n');
    expect(judgeHash(file)).toBe(sha256File(file));
    const opened = vi.spyOn(fs, 'openSync');
    expect(judgeHash(file)).toBe(sha256File(file));
    expect(opened.mock.calls.filter(([p]) => p === file).length).toBe(2);
  });
});

// The engine's checks after each sample, on a judge old enough to be hashed from the earlier
// hash (older than RACY_MS): a sample that rewrites it (same size) is still caught, in the
// group containment (where the judge is writable to the benchmark) and without containment
// of the judges by a mount.
describe('the engine, on a judge older than the racy window', () => {
  it("a sample that rewrites the judge's bytes (same size) voids the run", async () => {
    const repo = makeRepo({
      'bench.sh': 'if [ "$AUTOLOOP_SAMPLE" = 2 ]; then printf "forged" > data/ref.txt; fi\necho METRIC score=$(cat src/v)\n',
      'data/ref.txt': 'honest',
      'src/v': '10',
    });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--protect', 'data/**', '--repeats', '4'], repo);
    expect(init.code).toBe(0);
    // Past the racy window: after the first sample, the judge's hash comes from the earlier one while its stat holds.
    await new Promise((r) => setTimeout(r, RACY_MS + 500));
    const run = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CONTAINMENT: 'group' }).json as Record<string, unknown>;
    expect(run).toMatchObject({ status: 'invalid' });
    expect(String(run.reason)).toMatch(/judge changed while the benchmark ran: data\/ref\.txt/);
  });
});
