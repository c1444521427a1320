// Issue 11, class 2, at the source: in the `readonly` containment the code
// under test cannot write the engine's state or the judges at all (EROFS), and
// cannot undo the mounts that make them read-only. Real engine, real
// repositories, real namespaces; the fallback keeps the guards of
// judge-guard.test.ts (which run there in the fallback modes).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bundle as bundlePath, engine, fromTemplate, ledger, makeRepo, ROOT } from './helpers/engine.ts';
import { fstabOf, mountPlan } from '../scripts/lib/runners/readonly.ts';

const EXP = '.autoloop/experiments/exp';
const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const FORGED = JSON.stringify({ type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 0, samples: [0], metrics: { score: 0 }, description: 'forged', reason: 'x', duration_s: 0 });

// Each attempt's stderr is kept in the scratch area (writable); a success is recorded as WROTE.
const TRY = `S=${EXP}/scratch
attempt() { if (eval "$1") 2>>"$S/errors"; then echo "WROTE: $1" >> "$S/errors"; fi; }
`;

function init(repo: string, extra: string[] = []) {
  const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', ...extra], repo);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

/**
 * One sample a run where the attempts are the subject: each sample is a fresh setup (its own
 * namespace and mounts) running the same attempts, so the two more that `auto` takes for a
 * deterministic benchmark would only repeat them.
 */
const ONE_SAMPLE = ['--repeats', '1'];

const run = (repo: string, env: Record<string, string> = {}) => engine('run-experiment', ['--json'], repo, env).json as Record<string, unknown>;
const record = (repo: string, id = 'r0001') => JSON.parse(read(repo, `${EXP}/runs/${id}/result.json`)) as { containment?: string };

describe('the judges and the engine state are read-only to the code under test', () => {
  it('writes to the ledger, the benchmark, the checks and the config fail with EROFS; the run stays valid', () => {
    const bench = `${TRY}attempt "echo '${FORGED}' >> ${EXP}/ledger.jsonl"
attempt "echo 'echo METRIC score=0' >> bench.sh"
attempt "echo 'exit 0' > check.sh"
attempt "echo 'max_runs: 1' >> ${EXP}/config.yaml"
echo ok > "$S/note.txt"
echo METRIC score=$(cat src/v)
`;
    const repo = makeRepo({ 'bench.sh': bench, 'check.sh': 'exit 0\n', 'src/v': '10' });
    init(repo, ['--checks', 'sh check.sh', '--repeats', '1']);
    const before = { ledger: read(repo, `${EXP}/ledger.jsonl`), config: read(repo, `${EXP}/config.yaml`) };
    const r = run(repo);
    expect(r).toMatchObject({ status: 'ok', primary: 10 });
    expect(record(repo).containment).toBe('readonly');
    const errors = read(repo, `${EXP}/scratch/errors`);
    expect(errors).not.toContain('WROTE');
    expect(errors.match(/Read-only file system/g)).toHaveLength(4);
    expect(read(repo, `${EXP}/scratch/note.txt`)).toBe('ok\n');
    expect(read(repo, 'bench.sh')).toBe(bench);
    expect(read(repo, 'check.sh')).toBe('exit 0\n');
    expect(read(repo, `${EXP}/config.yaml`)).toBe(before.config);
    expect(read(repo, `${EXP}/ledger.jsonl`)).not.toContain('forged');
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(ledger(repo).some((l) => l.description === 'forged')).toBe(false);
  });

  it('the checks are read-only too, and a check that fails on its own still fails', () => {
    const check = `${TRY}attempt "echo 'exit 0' > check.sh"\nexit 1\n`;
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'check.sh': check, 'src/v': '10' });
    init(repo, ['--checks', 'sh check.sh']);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'checks_failed' });
    expect(read(repo, 'check.sh')).toBe(check);
    expect(read(repo, `${EXP}/scratch/errors`)).toMatch(/Read-only file system/);
  });

  // The namespace's first process is the setup shell, which holds the outer namespace's capabilities
  // while it waits for the command: entering its namespaces, its /proc/1/cwd, ptrace and SIGKILL fail too.
  it('remounting, unmounting, a nested namespace, /proc/<pid>/root and the first process cannot make them writable', () => {
    const bench = `${TRY}attempt "mount -o remount,bind,rw .autoloop"
attempt "mount -o remount,rw .autoloop"
attempt "umount .autoloop"
attempt "umount -l .autoloop"
attempt "umount bench.sh"
attempt "unshare --user --map-current-user --mount sh -c 'umount ${EXP}/../.. || mount -o remount,bind,rw .autoloop'"
for p in /proc/[0-9]*/root; do attempt "echo x >> $p$PWD/${EXP}/ledger.jsonl"; done
attempt "echo x >> /proc/1/cwd/${EXP}/ledger.jsonl"
attempt "nsenter -t 1 -U -m --preserve-credentials mount -o remount,bind,rw .autoloop"
attempt "nsenter -t 1 -m mount -o remount,bind,rw .autoloop"
attempt "timeout 2 strace -q -o /dev/null -p 1; [ \\$? = 124 ]"
kill -KILL 1 2>/dev/null
attempt "echo x >> ${EXP}/ledger.jsonl"
attempt "echo x >> bench.sh"
echo "all recorded" >> "$S/errors"
# Last: it hides .autoloop/ (the errors file included) in the run's own view.
attempt "mount --bind src .autoloop"
echo METRIC score=$(cat src/v)
`;
    const repo = makeRepo({ 'bench.sh': bench, 'src/v': '10' });
    init(repo, ONE_SAMPLE);
    const before = read(repo, `${EXP}/ledger.jsonl`);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'ok', primary: 10 });
    expect(record(repo).containment).toBe('readonly');
    // `mount --bind src .autoloop` may succeed in the run's own view: it hides, it does not write.
    const errors = read(repo, `${EXP}/scratch/errors`);
    const wrote = errors.split('\n').filter((l) => l.startsWith('WROTE') && !l.includes('--bind src'));
    expect(wrote).toEqual([]);
    // Every attempt above had its outcome recorded (none ran after .autoloop/ was hidden).
    expect(errors).toContain('all recorded');
    expect(read(repo, `${EXP}/ledger.jsonl`)).toBe(before.replace('', ''));
    expect(read(repo, 'bench.sh')).toBe(bench);
  });

  it('a benchmark whose only attempt fails is judged on its output as before: invalid only when it fails itself', () => {
    const repo = makeRepo({ 'bench.sh': `echo '${FORGED}' >> ${EXP}/ledger.jsonl\n`, 'src/v': '10' });
    init(repo);
    const r = run(repo);
    // No METRIC line: the benchmark failed on its own (the failed write was its last command).
    expect(r.status).not.toBe('ok');
    expect(read(repo, `${EXP}/ledger.jsonl`)).not.toContain('forged');
  });

  it('the timeout still ends a benchmark under the setup (the engine does not wait for the setup pipe to close)', () => {
    const repo = makeRepo({ 'bench.sh': 'sleep 300\necho METRIC score=1\n', 'src/v': '10' });
    init(repo, ['--timeout', '1', '--grace', '0.5']);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'timeout' });
    expect(record(repo).containment).toBe('readonly');
  });

  it('status says the judges are read-only', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=1\n', 'src/v': '1' });
    init(repo);
    expect(engine('status', ['--json'], repo).json?.containment).toBe('readonly');
    expect(engine('status', [], repo).stdout).toMatch(/containment: PID namespace, with the engine's state and the judges read-only/);
  });
});

describe('falling back', () => {
  it('a failed setup runs the command without it (said in the log), and the guards still catch a forged line', () => {
    const repo = makeRepo({ 'bench.sh': `echo '${FORGED}' >> ${EXP}/ledger.jsonl\necho METRIC score=$(cat src/v)\n`, 'src/v': '10' });
    init(repo);
    const r = run(repo, { AUTOLOOP_FAULT_AT: 'readonly-setup' });
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/engine's state changed while the benchmark ran: .*ledger.jsonl/);
    expect(record(repo).containment).toBe('pidns');
    expect(read(repo, `${EXP}/runs/r0001/output.log`)).toMatch(/read-only setup failed/);
    expect(read(repo, `${EXP}/ledger.jsonl`)).not.toContain('forged');
  });

  it('AUTOLOOP_CONTAINMENT=readonly refuses to run without the setup', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '10' });
    init(repo);
    const r = run(repo, { AUTOLOOP_FAULT_AT: 'readonly-setup', AUTOLOOP_CONTAINMENT: 'readonly' });
    expect(r.status).not.toBe('ok');
    expect(JSON.stringify(r)).toMatch(/AUTOLOOP_CONTAINMENT=readonly but the read-only setup failed/);
  });

  for (const mode of ['pidns', 'group']) {
    it(`AUTOLOOP_CONTAINMENT=${mode}: no read-only setup, the write succeeds and the guard restores it`, () => {
      const bench = 'echo METRIC score=$(cat src/v)\necho "echo METRIC score=0" >> bench.sh\n';
      // Init runs without the mode's env: both modes start from one copy (fromTemplate; nothing in it names its path).
      const repo = fromTemplate('self-rewriting bench, after init', () => {
        const r = makeRepo({ 'bench.sh': bench, 'src/v': '10' });
        init(r);
        return r;
      });
      const r = run(repo, { AUTOLOOP_CONTAINMENT: mode });
      expect(r).toMatchObject({ status: 'invalid' });
      expect(record(repo).containment).toBe(mode);
      engine('log-experiment', ['--description', 'baseline'], repo);
      expect(read(repo, 'bench.sh')).toBe(bench);
    });
  }
});

describe('the mount plan as mount reads it', () => {
  it('a judge whose name has blanks and a backslash is read-only too (fstab escapes)', () => {
    const name = 'my bench\\\tv2.sh';
    const bench = `${TRY}attempt "echo 'echo METRIC score=0' >> '${name}'"\necho METRIC score=$(cat src/v)\n`;
    const repo = makeRepo({ [name]: bench, 'src/v': '10' });
    const r0 = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', `sh '${name}'`, '--scope', 'src/**', ...ONE_SAMPLE], repo);
    expect(r0.code, r0.stderr).toBe(0);
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 10 });
    expect(record(repo).containment).toBe('readonly');
    expect(read(repo, name)).toBe(bench);
    expect(read(repo, `${EXP}/scratch/errors`)).toMatch(/Read-only file system/);
    // The plan's file is gone once the setup has read it.
    expect(fs.readdirSync(path.join(repo, EXP, 'runs', 'r0001')).filter((f) => f.includes('.mounts-'))).toEqual([]);
  });

  it('a planned path that is a mount point already is still made read-only (mount -a would skip it)', () => {
    const bench = `${TRY}attempt "echo '${FORGED}' >> ${EXP}/ledger.jsonl"\nattempt "echo x >> bench.sh"\necho METRIC score=$(cat src/v)\n`;
    const repo = makeRepo({ 'bench.sh': bench, 'src/v': '10' });
    init(repo, ONE_SAMPLE);
    // The engine itself runs where .autoloop/ is bound onto itself (a container volume, say).
    const inner = spawnSync('unshare', ['--user', '--map-current-user', '--mount', '--', '/bin/sh', '-c', 'mount -n --bind "$1" "$1" && exec "$2" "$3" --cwd "$4" --json', 'x', path.join(repo, '.autoloop'), process.execPath, bundlePath('run-experiment'), repo], { encoding: 'utf8' });
    expect(inner.status, inner.stderr).toBe(0);
    expect(JSON.parse(inner.stdout)).toMatchObject({ status: 'ok', primary: 10 });
    expect(record(repo).containment).toBe('readonly');
    expect(read(repo, 'bench.sh')).toBe(bench);
    expect(read(repo, `${EXP}/ledger.jsonl`)).not.toContain('forged');
    const errors = read(repo, `${EXP}/scratch/errors`);
    expect(errors).not.toContain('WROTE');
    expect(errors).toMatch(/Read-only file system/);
  });

  it('fstab lines: blanks and backslashes escaped in octal; a writable path is bound then remounted rw', () => {
    expect(fstabOf([{ mode: 'ro', path: '/r/a b\\c\td' }, { mode: 'rw', path: '/r/s' }])).toBe(
      '/r/a\\040b\\134c\\011d /r/a\\040b\\134c\\011d none bind,ro 0 0\n/r/s /r/s none bind 0 0\n/r/s /r/s none remount,bind,rw 0 0\n',
    );
  });
});

describe('the mount plan (pure)', () => {
  it('outer before inner; writable only inside a read-only path; a judge inside the writable tree stays read-only', () => {
    const plan = mountPlan({
      readOnly: ['/r/.autoloop', '/r/.autoloop/e/c/tree/bench.sh', '/r/bench.sh', '/r/.autoloop'],
      writable: ['/r/.autoloop/e/scratch', '/r/.autoloop/e/c/tree', '/r', '/r/bench.sh'],
    });
    expect(plan).toEqual([
      { mode: 'ro', path: '/r/.autoloop' },
      { mode: 'ro', path: '/r/bench.sh' },
      { mode: 'rw', path: '/r/.autoloop/e/scratch' },
      { mode: 'rw', path: '/r/.autoloop/e/c/tree' },
      { mode: 'ro', path: '/r/.autoloop/e/c/tree/bench.sh' },
    ]);
  });

  it('a directory named like a prefix is not inside it', () => {
    expect(mountPlan({ readOnly: ['/r/.autoloop'], writable: ['/r/.autoloop-x'] })).toEqual([{ mode: 'ro', path: '/r/.autoloop' }]);
  });
});

// Parallel candidates: the forged line never reaches the shared ledger, so no other candidate's log can read it.
describe('a candidate in its own worktree', { timeout: 900_000 }, () => {
  it('cannot write the shared ledger; its own tree stays writable', () => {
    const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-ro-${process.pid}`) };
    const bench = `root=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
if [ -f src/forge ]; then { echo '${FORGED}' >> "$root/${EXP}/ledger.jsonl"; } 2>>"$root/${EXP}/scratch/errors"; fi
echo built > build.out
echo METRIC score=$(cat src/v)
`;
    const dir = makeRepo({ 'bench.sh': bench, '.gitignore': 'build.out\n', 'src/v': '10\n' });
    try {
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--json'], dir, TIMING);
      expect(init.code, init.stderr).toBe(0);
      expect(engine('run-experiment', [], dir, TIMING).code).toBe(0);
      expect(engine('log-experiment', ['-d', 'baseline'], dir, TIMING).code).toBe(0);
      const c = engine('candidate', ['start', '--json'], dir, TIMING).json as { candidate: string; path: string };
      fs.writeFileSync(path.join(c.path, 'src/v'), '5\n');
      fs.writeFileSync(path.join(c.path, 'src/forge'), 'x\n');
      const before = read(dir, `${EXP}/ledger.jsonl`);
      const r = engine('run-experiment', ['--candidate', c.candidate, '--json'], dir, TIMING).json;
      expect(r).toMatchObject({ status: 'ok', primary: 5 });
      // Nothing but the engine's own line for the run (its record's hash) was added.
      const added = read(dir, `${EXP}/ledger.jsonl`).slice(before.length).split('\n').filter(Boolean);
      expect(read(dir, `${EXP}/ledger.jsonl`).startsWith(before)).toBe(true);
      expect(added.map((l) => (JSON.parse(l) as { event?: string }).event)).toEqual(['measured']);
      expect(read(dir, `${EXP}/scratch/errors`)).toMatch(/Read-only file system/);
      expect(read(c.path, 'build.out')).toBe('built\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
