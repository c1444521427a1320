// Issue 11 §5 without the hooks' journal (the engine driven by scripts): a new
// in-scope file cannot be told from the model's, so every revert moves it to
// rescued/<run>/ instead of deleting it, under kill -9 too, in both workspace
// modes, and rescued/ is bounded by a retention rule.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { baselineRepo, engine, git, initValue, iterate, ledger, setValue, SHELL_COMMAND, shellBaselineRepo, shellValueRepo } from './helpers/engine.ts';
import { COPY_SUFFIX, rescueFile } from '../scripts/lib/workspace-base.ts';
import { foldersToPrune, PIN, RESCUE_KEEP } from '../scripts/lib/rescue-retention.ts';

// Where the benchmark only prints a value, the shell version of valueRepo's (shellValueRepo,
// shellBaselineRepo): the same numbers with no Node start per sample, the moves being under test.
const rescued = (repo: string, run: string) => path.join(repo, '.autoloop', 'experiments', 'exp', 'rescued', run);
const copyOf = (repo: string, run: string, rel: string) => path.join(rescued(repo, run), rel + COPY_SUFFIX);

// The user's files: nested, a space, a newline, unicode; binary bytes, so "identical" means every byte.
const USER: Record<string, Buffer> = {
  'src/notes/deep er/plan ü✓.md': Buffer.from('my plan\n'),
  'src/odd\nname.bin': Buffer.from([0, 1, 2, 255, 10, 13, 0]),
  'src/data/ünïcødé/ δ.txt': Buffer.from('δ\n'.repeat(1000)),
};

function writeUserFiles(repo: string): void {
  for (const [rel, bytes] of Object.entries(USER)) {
    fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
    fs.writeFileSync(path.join(repo, rel), bytes);
  }
}

function expectAllCopied(repo: string, run: string): void {
  for (const [rel, bytes] of Object.entries(USER)) {
    expect(fs.existsSync(path.join(repo, rel)), rel).toBe(false);
    expect(fs.readFileSync(copyOf(repo, run, rel)).equals(bytes), rel).toBe(true);
  }
}

/** Each user file is in its place or in the copy (identical bytes), never nowhere. */
function expectSomewhere(repo: string, run: string): void {
  for (const [rel, bytes] of Object.entries(USER)) {
    const places = [path.join(repo, rel), copyOf(repo, run, rel)].filter((p) => fs.existsSync(p));
    expect(places.length, rel).toBeGreaterThan(0);
    for (const p of places) expect(fs.readFileSync(p).equals(bytes), p).toBe(true);
  }
}

const revertedEvent = (repo: string, run: string) => ledger(repo).find((l) => l.type === 'event' && l.event === 'reverted' && l.run_id === run) as { data: Record<string, unknown> } | undefined;

describe('a revert moves new in-scope files aside, never deletes them (no journal)', () => {
  it('discard: the user file is in rescued/<run>/ with identical bytes; the output and the ledger say where', () => {
    const repo = shellBaselineRepo();
    writeUserFiles(repo);
    setValue(repo, '120');
    const run = engine('run-experiment', ['--json'], repo);
    expect(run.json).toMatchObject({ status: 'ok' });
    const log = engine('log-experiment', ['--description', 'worse'], repo);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toMatch(/^r0002 DISCARD/);
    const note = log.stdout.split('\n').filter((l) => l.startsWith('new file(s) moved to '));
    expect(note).toHaveLength(1);
    expect(note[0]).toContain('.autoloop/experiments/exp/rescued/r0002/');
    expectAllCopied(repo, 'r0002');
    // Their emptied directories are gone; nothing of theirs reached git.
    expect(fs.existsSync(path.join(repo, 'src', 'notes'))).toBe(false);
    expect(git(repo, 'log', '--all', '--name-only', '--format=')).not.toMatch(/plan|odd|δ/);
    const ev = revertedEvent(repo, 'r0002');
    expect(ev?.data).toMatchObject({ rescued_to: '.autoloop/experiments/exp/rescued/r0002', moved_new_count: 3 });
    expect([...(ev?.data.moved_new as string[])].sort()).toEqual(Object.keys(USER).sort());
  });

  it('a discard that moves no new file prints no line about it', () => {
    const repo = shellBaselineRepo();
    setValue(repo, '120');
    const { log } = iterate(repo, 'worse');
    expect(log.json).toMatchObject({ verdict: 'discard' });
    expect(log.json).not.toHaveProperty('moved_new_files');
    expect(revertedEvent(repo, 'r0002')?.data).not.toHaveProperty('moved_new');
  });

  it('crash: the same', () => {
    const repo = baselineRepo(); // valueRepo's benchmark: its "crash" word is the crash
    writeUserFiles(repo);
    setValue(repo, '100 crash');
    const { log } = iterate(repo, 'breaks');
    expect(log.json).toMatchObject({ verdict: 'crash', moved_new_files: { count: 3, to: '.autoloop/experiments/exp/rescued/r0002' } });
    expectAllCopied(repo, 'r0002');
  });

  it('snapshot mode (no git): the same', () => {
    const repo = shellValueRepo('100', { git: false });
    expect(initValue(repo, SHELL_COMMAND).json).toMatchObject({ mode: 'snapshot' });
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    writeUserFiles(repo);
    setValue(repo, '120');
    expect(iterate(repo, 'worse').log.json).toMatchObject({ verdict: 'discard', moved_new_files: { count: 3 } });
    expectAllCopied(repo, 'r0002');
    expect(fs.readFileSync(path.join(repo, 'src', 'value.txt'), 'utf8')).toBe('100');
  });

  for (const point of ['after-ledger', 'revert:moved-one', 'after-revert']) {
    for (const mode of ['git', 'snapshot'] as const) {
      it(`kill -9 at ${point} (${mode}): every file is in its place or in the copy; the next call finishes the move`, () => {
        let repo: string;
        if (mode === 'git') repo = shellBaselineRepo();
        else {
          repo = shellValueRepo('100', { git: false });
          expect(initValue(repo, SHELL_COMMAND).code).toBe(0);
          expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
        }
        writeUserFiles(repo);
        setValue(repo, '120');
        expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
        const killed = engine('log-experiment', ['--description', 'worse', '--json'], repo, { AUTOLOOP_CRASH_AT: point });
        expect(killed.code).not.toBe(0);
        expectSomewhere(repo, 'r0002');
        const next = engine('run-experiment', ['--json'], repo);
        expect(next.json, next.stderr).toMatchObject({ status: 'ok' });
        expectAllCopied(repo, 'r0002');
        // One copy each: nothing moved twice.
        const copies = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? copies(path.join(dir, e.name)) : e.name.endsWith(COPY_SUFFIX) ? [e.name] : []));
        expect(copies(rescued(repo, 'r0002'))).toHaveLength(Object.keys(USER).length + 1);
      });
    }
  }
});

describe('copies never collide', () => {
  it('a second copy of the same path gets a name of its own; a file where a copy needs a directory moves the tree aside', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-collide-'));
    const dir = path.join(root, '.aside');
    fs.writeFileSync(path.join(root, 'a'), 'first');
    const one = rescueFile(root, 'a', dir);
    fs.writeFileSync(path.join(root, 'a'), 'second');
    const two = rescueFile(root, 'a', dir);
    expect(one).not.toBe(two);
    expect(fs.readFileSync(one as string, 'utf8')).toBe('first');
    expect(fs.readFileSync(two as string, 'utf8')).toBe('second');
    // `a.autoloop-copy` is a file now; a path below a directory of that name still finds a place.
    fs.mkdirSync(path.join(root, 'a' + COPY_SUFFIX));
    fs.writeFileSync(path.join(root, 'a' + COPY_SUFFIX, 'b'), 'third');
    const three = rescueFile(root, 'a' + COPY_SUFFIX + '/b', dir);
    expect(fs.readFileSync(three as string, 'utf8')).toBe('third');
    expect(fs.readFileSync(one as string, 'utf8')).toBe('first');
    expect(rescueFile(root, 'absent', dir)).toBeNull();
  });
});

describe('a move across filesystems', () => {
  // /dev/shm is a tmpfs on Linux: a rename there from the temp dir fails with EXDEV (on one device it is a plain rename).
  it('copies durably, then unlinks: the copy holds the same bytes (and a symlink its target), no temp file left', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-xdev-'));
    const other = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const dir = fs.mkdtempSync(path.join(other, 'autoloop-xdev-aside-'));
    const bytes = Buffer.from([0, 9, 255, 10, 0]);
    fs.mkdirSync(path.join(root, 'd e'));
    fs.writeFileSync(path.join(root, 'd e', 'f\nü'), bytes);
    fs.symlinkSync('../elsewhere', path.join(root, 'd e', 'link'));
    const copy = rescueFile(root, 'd e/f\nü', dir) as string;
    const link = rescueFile(root, 'd e/link', dir) as string;
    expect(fs.readFileSync(copy).equals(bytes)).toBe(true);
    expect(fs.readlinkSync(link)).toBe('../elsewhere');
    expect(fs.readdirSync(path.join(root, 'd e'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'd e')).sort()).toEqual(['f\nü' + COPY_SUFFIX, 'link' + COPY_SUFFIX].sort());
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('retention of rescued/', () => {
  it('prunes the oldest folders beyond the count, never the current run nor a pinned folder', () => {
    const repo = shellBaselineRepo();
    const base = path.dirname(rescued(repo, 'x'));
    const day = 24 * 3600;
    const now = Date.now() / 1000;
    // Older folders, oldest first: old-00 … (RESCUE_KEEP + 4); old-01 holds the user's files by attribution.
    const extra = RESCUE_KEEP + 5;
    for (let i = 0; i < extra; i++) {
      const dir = path.join(base, `old-${String(i).padStart(2, '0')}`);
      fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'src', 'f.txt' + COPY_SUFFIX), `copy ${i}\n`);
      if (i === 1) fs.writeFileSync(path.join(dir, PIN), '');
      fs.utimesSync(dir, now - (100 - i) * day, now - (100 - i) * day);
    }
    writeUserFiles(repo);
    setValue(repo, '120');
    const { log } = iterate(repo, 'worse');
    expect(log.json).toMatchObject({ verdict: 'discard' });
    const left = fs.readdirSync(base).sort();
    expect(left).toContain('r0002');
    expect(left).toContain('old-01');
    expectAllCopied(repo, 'r0002');
    // RESCUE_KEEP unpinned folders stay: r0002 and the newest RESCUE_KEEP - 1 old ones.
    const unpinned = left.filter((n) => n !== 'old-01');
    expect(unpinned).toHaveLength(RESCUE_KEEP);
    expect(left).not.toContain('old-00');
    expect(left).toContain(`old-${String(extra - 1).padStart(2, '0')}`);
    expect(revertedEvent(repo, 'r0002')?.data.rescued_pruned).toHaveLength(extra - 1 - (RESCUE_KEEP - 1));
  });

  it('prunes by size, oldest first, and keeps the current folder even alone over the cap', () => {
    const f = (name: string, mtimeMs: number, bytes: number, pinned = false) => ({ name, mtimeMs, bytes, pinned });
    const folders = [f('r3', 3, 40), f('r1', 1, 40), f('r2', 2, 40), f('p', 0, 500, true), f('r4', 4, 40)];
    expect(foldersToPrune(folders, 'r4', 10, 100)).toEqual(['r1', 'r2']);
    expect(foldersToPrune(folders, 'r4', 10, 1000)).toEqual([]);
    expect(foldersToPrune(folders, 'r4', 2, 1000)).toEqual(['r1', 'r2']);
    expect(foldersToPrune([f('big', 9, 5000), f('old', 1, 1)], 'big', 10, 100)).toEqual(['old']);
  });
});
