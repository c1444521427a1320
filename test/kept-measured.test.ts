// Class 1 of issue 11: what is kept is what was measured. Real repositories,
// the real bundled engine, real git (aliases included), kill -9 via crash points.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { baselineRepo, engine, git, iterate, ledger, setValue, valueRepo } from './helpers/engine.ts';

const write = (repo: string, rel: string, text: string) => fs.writeFileSync(path.join(repo, rel), text);

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const expDir = (repo: string) => path.join(repo, '.autoloop', 'experiments', 'exp');

/** A copy of the baseline repository (baselineRepo: init and the baseline run once per file). */
const started = (): string => baselineRepo();

describe('what is kept is what was measured', () => {
  it('an edit between run and log makes the run invalid; nothing unmeasured is committed, and the edit is rescued', () => {
    const repo = started();
    const head = git(repo, 'rev-parse', 'HEAD');
    setValue(repo, '50');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 50 });
    setValue(repo, '999');
    const log = engine('log-experiment', ['--description', 'measured 50', '--json'], repo);
    expect(log.json).toMatchObject({ verdict: 'invalid' });
    expect(String(log.json?.reason)).toMatch(/changed after the run was measured: src\/value.txt/);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(read(repo, 'src/value.txt')).toBe('100');
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0002/src/value.txt.autoloop-copy')).toBe('999');
  });

  it('an edit made during the benchmark makes the run invalid', () => {
    // The benchmark rewrites the candidate's file while it measures it (not the baseline's).
    const repo = valueRepo('100', { 'bench.sh': 'v=$(cat src/value.txt); [ "$v" = 100 ] || echo 1 > src/value.txt; echo METRIC score=$v\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
    iterate(repo, 'baseline');
    setValue(repo, '90');
    const run = engine('run-experiment', ['--json'], repo);
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toMatch(/changed while the benchmark ran/);
  });

  it('a log killed after its ledger line commits the measured content, not the next edit', () => {
    const repo = started();
    setValue(repo, '90');
    engine('run-experiment', [], repo);
    const killed = engine('log-experiment', ['--description', 'better'], repo, { AUTOLOOP_CRASH_AT: 'after-ledger' });
    expect(killed.code).not.toBe(0);
    setValue(repo, '999'); // the model's next edit, before any engine call
    const next = engine('run-experiment', ['--json'], repo);
    expect(next.stderr).toMatch(/completed the keep of r0002/);
    expect(git(repo, 'show', 'HEAD:src/value.txt')).toBe('90');
    expect(next.json).toMatchObject({ status: 'ok', primary: 999, files: ['src/value.txt'] });
  });

  it('a hand commit through a git alias is refused with a repair path, and repair restores the last keep', () => {
    const repo = started();
    setValue(repo, '90');
    iterate(repo, 'better');
    const kept = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'config', 'alias.save', 'commit -qam wip');
    setValue(repo, '1');
    git(repo, 'save');
    const moved = git(repo, 'rev-parse', 'HEAD');
    const refused = engine('run-experiment', [], repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/last kept .*control\.mjs repair/);
    expect(engine('log-experiment', ['--description', 'x'], repo).code).not.toBe(0);
    // status and explain say the same, not "tree is at the best" with the next idea.
    const status = engine('status', [], repo).stdout;
    expect(status).not.toContain('tree is at the best');
    expect(status).toContain(`refused: ${refused.stderr.trim().replace(/^run-experiment: /, '')}`);
    expect(status).toMatch(/next: control\.mjs repair/);
    expect(engine('status', ['--json'], repo).json).toMatchObject({ branch_moved: expect.stringMatching(/last kept/) as unknown as string });
    expect(engine('control', ['explain', '--json'], repo).json).toMatchObject({ next_action: expect.stringMatching(/^control\.mjs repair/) as unknown as string });

    const repair = engine('control', ['repair'], repo);
    expect(repair.code).toBe(0);
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(kept);
    expect(read(repo, 'src/value.txt')).toBe('90');
    // The hand commit is not lost.
    expect(git(repo, 'for-each-ref', '--format=%(objectname)', 'refs/autoloop/moved/')).toBe(moved);
    expect(ledger(repo).some((l) => l.event === 'branch_moved')).toBe(true);
    expect(engine('status', ['--json'], repo).json).toMatchObject({ branch_moved: null, tree_differs_from_best: [] });
    setValue(repo, '80');
    expect(iterate(repo, 'after repair').log.json).toMatchObject({ verdict: 'keep' });
  });

  it("repair names the files of a hand commit it set aside and prints the command that brings them back byte for byte", () => {
    const repo = started();
    setValue(repo, '90');
    iterate(repo, 'better');
    const kept = git(repo, 'rev-parse', 'HEAD');
    // The user commits by hand mid-loop: notes outside the scope (bytes no text tool would keep), and a change in scope.
    const notes = Buffer.from([0x6e, 0x6f, 0x74, 0x65, 0x00, 0xff, 0x0d, 0x0a, 0x80]);
    fs.mkdirSync(path.join(repo, 'docs'));
    fs.writeFileSync(path.join(repo, 'docs/my notes.bin'), notes);
    setValue(repo, '1');
    git(repo, 'add', 'docs/my notes.bin', 'src/value.txt');
    git(repo, 'commit', '-qm', 'my notes');
    const repair = engine('control', ['repair'], repo);
    expect(repair.code).toBe(0);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(kept);
    expect(fs.existsSync(path.join(repo, 'docs/my notes.bin'))).toBe(false);
    const ref = git(repo, 'for-each-ref', '--format=%(refname)', 'refs/autoloop/moved/');
    expect(repair.stdout).toContain('set aside from the tree (kept in that ref): docs/my notes.bin, src/value.txt');
    const cmd = /to get them back: (git checkout [^;\n]+)/.exec(repair.stdout)?.[1];
    expect(cmd).toBe(`git checkout ${ref} -- 'docs/my notes.bin' src/value.txt`);
    // Pasted into a shell as printed, it brings the notes back, byte for byte.
    const back = spawnSync('sh', ['-c', cmd as string], { cwd: repo, encoding: 'utf8' });
    expect(back.status).toBe(0);
    expect(fs.readFileSync(path.join(repo, 'docs/my notes.bin')).equals(notes)).toBe(true);
    expect(read(repo, 'src/value.txt')).toBe('1');
  });

  it('the branch_moved ledger line lists the files repair set aside and where they went, bounded', () => {
    const repo = started();
    setValue(repo, '90');
    iterate(repo, 'better');
    const kept = git(repo, 'rev-parse', 'HEAD');
    // A hand commit touching 61 files, then an uncommitted edit on one of them.
    fs.mkdirSync(path.join(repo, 'docs'));
    for (let i = 0; i < 60; i++) write(repo, `docs/n${String(i).padStart(2, '0')}.md`, `note ${i}\n`);
    setValue(repo, '1');
    git(repo, 'add', 'docs', 'src/value.txt');
    git(repo, 'commit', '-qm', 'my notes');
    setValue(repo, '2');
    expect(engine('control', ['repair'], repo).code).toBe(0);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(kept);
    const line = ledger(repo).find((l) => l.event === 'branch_moved') as { data: Record<string, unknown> };
    const ref = git(repo, 'for-each-ref', '--format=%(refname)', 'refs/autoloop/moved/');
    // Was: { from, to, saved, rescued_to } only: nothing said which files went where.
    expect(line.data).toMatchObject({ to: kept, saved: ref, files_count: 61, rescued: ['src/value.txt'], rescued_count: 1 });
    expect(line.data.files).toHaveLength(50);
    expect(line.data.files).toEqual(expect.arrayContaining(['docs/n00.md', 'docs/n49.md']));
    expect(read(repo, path.join(line.data.rescued_to as string, 'src/value.txt.autoloop-copy'))).toBe('2');
  });

  it('a git reset --hard through an alias is detected and undone by repair', () => {
    const repo = started();
    setValue(repo, '90');
    iterate(repo, 'better');
    const kept = git(repo, 'rev-parse', 'HEAD');
    git(repo, 'config', 'alias.undo', 'reset -q --hard HEAD~1');
    git(repo, 'undo');
    expect(engine('run-experiment', [], repo).code).toBe(1);
    expect(engine('control', ['repair'], repo).code).toBe(0);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(kept);
    expect(read(repo, 'src/value.txt')).toBe('90');
    expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe('');
  });

  it('records the measured content and the judges in the run record and the ledger', () => {
    const repo = started();
    setValue(repo, '90');
    engine('run-experiment', [], repo);
    const rec = JSON.parse(fs.readFileSync(path.join(expDir(repo), 'runs', 'r0002', 'result.json'), 'utf8')) as Record<string, any>;
    const blob = git(repo, 'hash-object', 'src/value.txt');
    expect(rec.content.files['src/value.txt']).toEqual({ id: blob, mode: 0o100644 });
    expect(rec.judges.files['bench.cjs']).toMatch(/^[0-9a-f]{64}$/);
    engine('log-experiment', ['--description', 'better'], repo);
    const line = ledger(repo).find((l) => l.run_id === 'r0002' && l.type === 'result') as Record<string, any>;
    expect(line.content.digest).toBe(rec.content.digest);
    expect(git(repo, 'rev-parse', 'HEAD:src/value.txt')).toBe(blob);
  });
  it('an in-scope file the code under test hides from git (assume-unchanged) is seen: kept as measured, never re-measured as the best', () => {
    // Before: the run was invalid, its revert saw nothing to undo, and the next
    // run measured the hidden file as "the unchanged best" (best 1, commit 100).
    const repo = valueRepo('100', { 'bench.sh': 'sh src/run.sh\n', 'src/run.sh': 'echo METRIC score=100\n', 'src/sparse.txt': 'not checked out\n' });
    // A sparse checkout's entry (skip-worktree, no file) hides nothing: left alone, never a deletion.
    git(repo, 'update-index', '--skip-worktree', 'src/sparse.txt');
    fs.rmSync(path.join(repo, 'src/sparse.txt'));
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
    expect(iterate(repo, 'baseline').run.json).toMatchObject({ status: 'ok', files: [] });
    const cheat = 'git update-index -q --assume-unchanged src/run.sh; echo METRIC score=1\n';
    write(repo, 'src/run.sh', cheat);
    const { run, log } = iterate(repo, 'hides itself');
    expect(run.json).toMatchObject({ status: 'ok', primary: 1, files: ['src/run.sh'] });
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'HEAD:src/run.sh')).toBe(cheat.trim());
    expect(git(repo, 'ls-files', '-v', 'src/run.sh')).toBe('H src/run.sh');
    expect(git(repo, 'ls-files', '-v', 'src/sparse.txt')).toBe('S src/sparse.txt');
    expect(git(repo, 'cat-file', '-t', 'HEAD:src/sparse.txt')).toBe('blob');
  });

  it('edits hidden by hand-set index flags (assume-unchanged, skip-worktree; index v4) are measured and kept, not re-measured as the best', () => {
    const repo = started();
    git(repo, 'update-index', '--index-version', '4');
    git(repo, '-c', 'alias.hide=update-index --assume-unchanged', 'hide', 'src/value.txt');
    git(repo, 'update-index', '--skip-worktree', 'src/other.txt');
    setValue(repo, '90');
    write(repo, 'src/other.txt', 'hidden\n');
    const { run, log } = iterate(repo, 'hidden edits');
    expect(run.json).toMatchObject({ status: 'ok', primary: 90, files: ['src/other.txt', 'src/value.txt'] });
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'HEAD:src/value.txt')).toBe('90');
    expect(git(repo, 'show', 'HEAD:src/other.txt')).toBe('hidden');
    expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe('');
  });
  for (const config of ['default', 'minimal'] as const) {
    it(`an edit that keeps the size and puts the mtime back within the second is seen (stat checks: ${config})`, () => {
      // git's stat check compares whole seconds; minimal (and trustctime off) compares only size and mtime.
      const repo = started();
      if (config === 'minimal') {
        git(repo, 'config', 'core.checkStat', 'minimal');
        git(repo, 'config', 'core.trustctime', 'false');
      }
      const file = path.join(repo, 'src/value.txt');
      // An hour old and refreshed in the index: not racily clean, so git trusts the stat data.
      const past = new Date(Date.now() - 3_600_000);
      fs.utimesSync(file, past, past);
      git(repo, 'update-index', '--refresh');
      setValue(repo, '050');
      fs.utimesSync(file, past, past);
      // (Within the same second as the refresh, git status shows nothing here; across it, it does: the engine must see it either way.)
      const { run, log } = iterate(repo, 'same size');
      expect(run.json).toMatchObject({ status: 'ok', primary: 50, files: ['src/value.txt'] });
      expect(log.json).toMatchObject({ verdict: 'keep' });
      expect(git(repo, 'show', 'HEAD:src/value.txt')).toBe('050');
    });
  }
});
