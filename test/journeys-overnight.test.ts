// Journeys of a long unattended loop, through the bundled engine on real
// repositories: what the next call says after the night went wrong.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundle, engine, engineAsync, finished, initValue, ROOT, valueRepo } from './helpers/engine.ts';
import { fileLimitNote, fileSizeLimit } from '../scripts/lib/disk-space.ts';
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

/** What the SessionStart hook (hooks/run.sh, as Claude Code runs it) tells a resumed session: its Next line. */
function sessionStartNext(repo: string): string | undefined {
  const input = JSON.stringify({ session_id: 'sess-resumed', transcript_path: path.join(repo, 't.jsonl'), cwd: repo, hook_event_name: 'SessionStart', source: 'resume' });
  const r = spawnSync('sh', [path.join(ROOT, 'hooks', 'run.sh'), 'session-start'], { input, encoding: 'utf8', env: { ...process.env, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: repo } });
  const text = (JSON.parse(r.stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput.additionalContext;
  return text.split('\n').find((l) => l.startsWith('Next: '));
}

describe('the engine killed while it logs, then a new session', () => {
  // after-ledger: the result line is written, the record still says measured (Node's reading);
  // after-record: the record says logged, active.json not rewritten yet (the shell's reading).
  for (const point of ['after-ledger', 'after-record']) {
    it(`after a kill -9 at ${point}, the SessionStart hook says its summary predates the logged run and names status`, HANG_GUARD, () => {
      const repo = valueRepo('100');
      expect(initValue(repo, ['--repeats', '1']).code).toBe(0);
      expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
      expect(sessionStartNext(repo)).toBe('Next: Next idea from ideas.md: one change, then measure it.');
      fs.writeFileSync(path.join(repo, 'src/value.txt'), '90');
      expect(engine('run-experiment', ['--description', 'better'], repo, { AUTOLOOP_CRASH_AT: point }).code).toBe(null);
      // The summary active.json holds is from before r0002 (1 run, best 100): the session must not take it as the news.
      expect(sessionStartNext(repo)).toBe('Next: The last engine call was cut off after it logged its run, so the figures above predate that run: read its verdict with status.mjs (and note it in ideas.md), then go on; the next engine call completes what the cut-off one left undone.');
      expect(engine('status', ['--json'], repo).json).toMatchObject({ best: 90 });
      fs.writeFileSync(path.join(repo, 'src/value.txt'), '80');
      expect(engine('run-experiment', ['--description', 'better still', '--json'], repo).json).toMatchObject({ run_id: 'r0003', verdict: 'keep' });
      expect(sessionStartNext(repo)).toBe('Next: Next idea from ideas.md: one change, then measure it.');
      const results = ledgerOf(repo).filter((l) => l.type === 'result').map((l) => [l.run_id, l.verdict]);
      expect(results).toEqual([['r0001', 'keep'], ['r0002', 'keep'], ['r0003', 'keep']]);
    });
  }
});

describe('two sessions call the engine at once', () => {
  it('the second is refused in one line that says to wait and call again, and status says busy meanwhile', HANG_GUARD, async () => {
    const repo = valueRepo('100');
    expect(initValue(repo, ['--repeats', '1']).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90');
    // The first holds the repository's lock, held off the CPU right after taking it.
    const first = engineAsync('run-experiment', ['--description', 'first', '--json'], repo, { AUTOLOOP_STOP_AT: 'lock:created' });
    const done = finished(first);
    const lock = path.join(repo, '.autoloop', 'lock');
    while (!fs.existsSync(lock) || fs.readFileSync(`/proc/${first.pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'T') await new Promise((r) => setTimeout(r, 20));
    const second = engine('run-experiment', ['--description', 'second', '--json'], repo);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`run-experiment: another autoloop command (run-experiment, pid ${first.pid}) is running in this repository: wait for it to end (status.mjs shows it busy until then), then call again\n`);
    expect(engine('status', ['--json'], repo).json).toMatchObject({ busy: expect.anything() });
    process.kill(first.pid as number, 'SIGCONT');
    expect((await done).code).toBe(0);
    const again = engine('run-experiment', ['--description', 'second', '--json'], repo);
    expect(again.code).toBe(0);
    expect(ledgerOf(repo).filter((l) => l.type === 'result').map((l) => l.description)).toEqual(['baseline', 'first', 'second']);
  });
});

describe('the engine killed while it measures, then a new session', () => {
  const WAITING = "const v = require('node:fs').readFileSync('src/value.txt', 'utf8');\nif (v.includes('wait')) setTimeout(() => {}, 600_000);\nelse console.log('METRIC score=' + Number.parseFloat(v));\n";

  it('status, explain and the SessionStart hook all say to run the change again, and that run settles it', HANG_GUARD, async () => {
    const repo = valueRepo('100', { 'bench.cjs': WAITING });
    expect(initValue(repo, ['--repeats', '1']).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90 wait');
    const cut = engineAsync('run-experiment', ['--description', 'better', '--json'], repo);
    const done = finished(cut);
    const record = path.join(repo, '.autoloop/experiments/exp/runs/r0002/result.json');
    while (!fs.existsSync(record) || !fs.readFileSync(record, 'utf8').includes('"running"')) await new Promise((r) => setTimeout(r, 20));
    cut.kill('SIGKILL');
    await done;
    const step = 'r0002 was cut off while measuring (its engine call is gone): run run-experiment again for the change in the tree (it settles the interrupted run; if it refuses, control.mjs repair)';
    expect(engine('status', ['--json'], repo).json).toMatchObject({ next_action: step });
    expect(engine('control', ['explain'], repo).stdout).toContain(`next: ${step}`);
    expect(sessionStartNext(repo)).toBe('Next: The last run was cut off: run run-experiment again (it settles the interrupted run; if it refuses, control.mjs repair).');
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90');
    expect(engine('run-experiment', ['--description', 'better', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 90 });
    expect(engine('status', ['--json'], repo).json).toMatchObject({ next_action: 'Next idea from ideas.md: one change, then measure it.' });
  });
});

describe('a file size limit (ulimit -f) in the session the loop runs in', () => {
  it('the run whose output reached it says so, not a bare exit code', HANG_GUARD, () => {
    const repo = valueRepo('100');
    expect(initValue(repo, ['--repeats', '1']).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90 flood'); // 50 MB of output
    // The limit (2,000 blocks of 512 bytes in sh: 1,000 KB) set by the shell the engine starts from, as a user's ulimit -f would be.
    const r = spawnSync('sh', ['-c', 'ulimit -f 2000 && exec "$0" "$@"', process.execPath, bundle('run-experiment'), '--description', 'flood', '--json', '--cwd', repo], { encoding: 'utf8' });
    const reason = (JSON.parse(r.stdout) as { reason: string }).reason;
    expect(reason).toMatch(/; the output reached the file size limit \(1000 KB, ulimit -f\), so the benchmark's writes failed there: raise the limit where the session starts, or print less$/);
    // Without a limit, or below it, nothing is said.
    expect(fileSizeLimit('Max cpu time              unlimited            unlimited            seconds\nMax file size             unlimited            unlimited            bytes\n')).toBeNull();
    expect(fileSizeLimit('Max file size             2048000              2048000              bytes\n')).toBe(2_048_000);
    expect(fileLimitNote(2_047_999, 2_048_000)).toBeNull();
    expect(fileLimitNote(10, null)).toBeNull();
  });
});
