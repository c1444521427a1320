// Journeys of a long unattended loop, through the bundled engine on real
// repositories: what the next call says after the night went wrong.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, initValue, valueRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const HANG_GUARD = { timeout: 600_000 };

/** A 4 MB tmpfs (null where this user may not mount one): a disk that a flooding benchmark fills. */
function smallDisk(): string | null {
  const dir = tmpDir('autoloop-disk-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? dir : null;
}
const disks: string[] = [];
afterAll(() => {
  for (const d of disks) spawnSync('umount', ['-l', d]);
});

const ledgerOf = (repo: string): Array<Record<string, unknown>> =>
  fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('a disk that fills overnight', () => {
  const disk = smallDisk();
  if (disk) disks.push(disk);

  it.skipIf(disk === null)('the run that filled it says the disk is full, the next call says how to go on, and no ledger line is lost', HANG_GUARD, () => {
    const repo = valueRepo('100', {}, { git: true });
    const moved = path.join(disk as string, 'repo');
    fs.cpSync(repo, moved, { recursive: true });
    expect(initValue(moved, ['--repeats', '1']).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], moved).json).toMatchObject({ verdict: 'keep' });
    // 50 MB of output on a 4 MB disk: the benchmark's own write fails, and its last words with it.
    fs.writeFileSync(path.join(moved, 'src/value.txt'), '90 flood');
    const flooded = engine('run-experiment', ['--description', 'flood', '--json'], moved);
    const crash = ledgerOf(moved).find((l) => l.type === 'result' && l.run_id === 'r0002');
    // A crash (the write failed) or a missing metric (the METRIC line was the write that failed).
    expect(['crash', 'invalid']).toContain(crash?.status);
    expect(crash?.reason).toMatch(/; the disk holding \.autoloop\/experiments\/exp\/runs\/r0002 is full \(\d+ KB free\), so the output was cut there: free space/);
    // Its answer is that line, or (when the disk took the answer's own writes) the full-disk line.
    if (flooded.json) expect(flooded.json.reason).toBe(crash?.reason);
    else expect(flooded.stderr).toMatch(/^run-experiment: the disk is full \(ENOSPC[^\n]*\): free space \(old run logs under \.autoloop\/experiments\/\*\/runs\/\), then call again\n$/);
    // Still full: the next call names the problem and the remedy in one line, no stack trace.
    fs.writeFileSync(path.join(moved, 'src/value.txt'), '90');
    const stuck = engine('run-experiment', ['--description', 'smaller', '--json'], moved);
    expect(stuck.code).toBe(1);
    expect(stuck.stderr).toMatch(/^run-experiment: the disk is full \(ENOSPC[^\n]*\): free space \(old run logs under \.autoloop\/experiments\/\*\/runs\/\), then call again\n$/);
    // Room made as told: the loop goes on, every line before still there.
    fs.rmSync(path.join(moved, '.autoloop/experiments/exp/runs/r0002/output.log'));
    fs.writeFileSync(path.join(moved, 'src/value.txt'), '90');
    const again = engine('run-experiment', ['--description', 'smaller', '--json'], moved);
    expect(again.json).toMatchObject({ verdict: 'keep', primary: 90 });
    const results = ledgerOf(moved).filter((l) => l.type === 'result').map((l) => [l.run_id, l.status]);
    expect(results[0]).toEqual(['r0001', 'ok']);
    expect(results[1]?.[0]).toBe('r0002');
    expect(results.at(-1)?.[1]).toBe('ok');
  });
});
