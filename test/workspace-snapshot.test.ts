import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { openWorkspace } from '../scripts/lib/workspace.ts';
import type { SnapshotWorkspace } from '../scripts/lib/snapshot-workspace.ts';
import { RefusalError, UsageError } from '../scripts/lib/errors.ts';
import { finishInit } from '../scripts/lib/init-journal.ts';
import type { ConfigInput } from '../scripts/lib/schema.ts';
import { cleanupTmp, exists, expPaths, makeConfig, makeDir, moduleUrl, read, runChild, tmpDir, write } from './helpers/repo.ts';

afterAll(cleanupTmp);

// Where a revert moves what it takes away (a folder of its own per call).
const aside = () => tmpDir('autoloop-aside-');
const FILES = {
  'bench/run.sh': 'echo METRIC time_ms=1\n',
  'src/a.ts': 'export const a = 1;\n',
  'src/old.ts': 'old\n',
  'src/with space ü.ts': 'unicode\n',
  'docs/readme.md': 'readme\n',
};

async function setup(over: Partial<ConfigInput> = {}, files: Record<string, string> = FILES) {
  const root = makeDir(files);
  const exp = expPaths(root, 'exp');
  const config = makeConfig({ scope: ['src/**'], ...over });
  const ws = await openWorkspace(root, exp, config);
  return { root, exp, config, ws };
}

const trailers = (run: string) => ({ 'Autoloop-Run': run, 'Autoloop-Metric': 'time_ms=1' });

/** Every in-scope file of the tree, with its content: what "the best" looks like. */
function tree(root: string, dir = 'src'): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else out[r] = e.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(root, r))}` : fs.readFileSync(path.join(root, r), 'utf8');
    }
  };
  if (fs.existsSync(path.join(root, dir))) walk(dir);
  return out;
}

// The engine stores its copies under a suffix, so no test runner picks them up.
const COPY = '.autoloop-copy';

describe('snapshot mode: begin and head', () => {
  it('copies the in-scope files, returns a content id, and is idempotent', async () => {
    const { exp, ws } = await setup();
    expect(ws.mode).toBe('snapshot');
    const { base } = await ws.begin();
    expect(base).toMatch(/^s-[0-9a-f]{16}$/);
    expect(await ws.head()).toBe(base);
    const files = path.join(exp.snapshot, base, 'files');
    expect(fs.readFileSync(path.join(files, 'src/a.ts' + COPY), 'utf8')).toBe(FILES['src/a.ts']);
    expect(fs.readFileSync(path.join(files, 'src/with space ü.ts' + COPY), 'utf8')).toBe('unicode\n');
    expect([COPY, ''].some((c) => fs.existsSync(path.join(files, 'docs/readme.md' + c)))).toBe(false);
    expect([COPY, ''].some((c) => fs.existsSync(path.join(files, 'bench/run.sh' + c)))).toBe(false);
    expect(await ws.begin()).toEqual({ base });
    expect(fs.readdirSync(exp.snapshot)).toEqual([base]);
    expect(await ws.outOfScopeChanges()).toEqual([]);
  });

  it('refuses to work before begin', async () => {
    const { ws } = await setup();
    await expect(ws.changedInScope()).rejects.toThrow(RefusalError);
  });
});

describe('snapshot mode: changes, keep, revert', () => {
  it('sees modified, created and deleted in-scope files and exec-bit changes, nothing outside', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    expect(await ws.changedInScope()).toEqual([]);
    write(root, 'src/a.ts', 'export const a = 2;\n');
    write(root, 'src/new/deep.ts', 'new\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    write(root, 'docs/readme.md', 'out of scope\n');
    write(root, 'bench/run.sh', 'echo METRIC time_ms=0\n');
    expect(await ws.changedInScope()).toEqual(['src/a.ts', 'src/new/deep.ts', 'src/old.ts']);
    fs.chmodSync(path.join(root, 'src/with space ü.ts'), 0o755);
    expect(await ws.changedInScope()).toContain('src/with space ü.ts');
  });

  it('keep takes exactly the given files into the new best and records the run', async () => {
    const { root, exp, ws } = await setup();
    const { base } = await ws.begin();
    write(root, 'src/a.ts', 'kept\n');
    write(root, 'src/new.ts', 'kept new\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    write(root, 'src/not-kept.ts', 'left alone\n');
    const id = await ws.keep(['src/a.ts', 'src/new.ts', 'src/old.ts'], 'r0001', trailers('r0001'));
    expect(id).not.toBe(base);
    expect(await ws.head()).toBe(id);
    expect(await ws.findKeep('r0001')).toBe(id);
    expect(await ws.findKeep('r0002')).toBeNull();
    expect(await ws.changedInScope()).toEqual(['src/not-kept.ts']);
    // The old best is gone; the new one has the kept content.
    expect(fs.readdirSync(exp.snapshot)).toEqual([id]);
    const files = path.join(exp.snapshot, id, 'files');
    expect(fs.readFileSync(path.join(files, 'src/a.ts' + COPY), 'utf8')).toBe('kept\n');
    expect([COPY, ''].some((c) => fs.existsSync(path.join(files, 'src/old.ts' + c)))).toBe(false);
    expect([COPY, ''].some((c) => fs.existsSync(path.join(files, 'src/not-kept.ts' + c)))).toBe(false);
    await expect(ws.keep(['docs/readme.md'], 'x', trailers('r0002'))).rejects.toThrow(UsageError);
    await expect(ws.keep(['bench/run.sh'], 'x', trailers('r0002'))).rejects.toThrow(/outside the scope/);
  });

  it('the best does not change when a kept file is later rewritten in place', async () => {
    const { root, ws } = await setup();
    await ws.begin();
    write(root, 'src/a.ts', 'kept\n');
    await ws.keep(['src/a.ts'], 'k', trailers('r0001'));
    // Same inode, new bytes: a hard link from the work tree would leak this into the best.
    fs.writeFileSync(path.join(root, 'src/a.ts'), 'rewritten\n');
    expect((await ws.revert(aside())).files).toEqual(['src/a.ts']);
    expect(read(root, 'src/a.ts')).toBe('kept\n');
  });

  it('revert removes new in-scope files, restores modified and deleted ones, leaves the rest', async () => {
    const { root, ws } = await setup({}, { ...FILES, 'src/run.sh': '#!/bin/sh\n' });
    fs.chmodSync(path.join(root, 'src/run.sh'), 0o755);
    write(root, 'user-outside.txt', 'user file outside the scope\n');
    await ws.begin();
    const best = tree(root);
    write(root, 'src/a.ts', 'broken\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    fs.rmSync(path.join(root, 'src/with space ü.ts'));
    write(root, 'src/new/deep/x.ts', 'new\n');
    fs.chmodSync(path.join(root, 'src/run.sh'), 0o644);
    write(root, 'docs/readme.md', 'agent edit out of scope\n');
    write(root, '.autoloop/experiments/exp/program.md', 'notes');
    const victim = makeDir({ 'precious.txt': 'keep me' });
    fs.symlinkSync(path.join(victim, 'precious.txt'), path.join(root, 'src/evil-link'));
    // A restored file must replace a symlink, not write through it.
    fs.rmSync(path.join(root, 'src/a.ts'));
    fs.symlinkSync(path.join(victim, 'precious.txt'), path.join(root, 'src/a.ts'));

    const reverted = (await ws.revert(aside())).files;
    expect(reverted).toEqual(['src/a.ts', 'src/evil-link', 'src/new/deep/x.ts', 'src/old.ts', 'src/run.sh', 'src/with space ü.ts']);
    expect(tree(root)).toEqual(best);
    expect(fs.statSync(path.join(root, 'src/run.sh')).mode & 0o777).toBe(0o755);
    expect(exists(root, 'src/new')).toBe(false);
    expect(read(victim, 'precious.txt')).toBe('keep me');
    expect(read(root, 'user-outside.txt')).toBe('user file outside the scope\n');
    expect(read(root, 'docs/readme.md')).toBe('agent edit out of scope\n');
    expect(read(root, '.autoloop/experiments/exp/program.md')).toBe('notes');
    expect((await ws.revert(aside())).files).toEqual([]);
  });

  it('a file present at begin inside the scope survives revert (as it was at begin)', async () => {
    const { root, ws } = await setup();
    write(root, 'src/user-notes.txt', 'user file present at begin\n');
    await ws.begin();
    write(root, 'src/user-notes.txt', 'agent changed it\n');
    await ws.revert(aside());
    expect(read(root, 'src/user-notes.txt')).toBe('user file present at begin\n');
  });

  it('a new segment (begin again) starts from the tree as it is', async () => {
    const { root, exp, ws } = await setup();
    const first = await ws.begin();
    write(root, 'src/a.ts', 'edited between segments\n');
    const second = await ws.begin();
    expect(second.base).not.toBe(first.base);
    // Staged until the segment's config line (init-journal.ts): a killed init leaves the old best in force.
    expect(await ws.head()).toBe(first.base);
    expect(await ws.changedInScope()).toEqual(['src/a.ts']);
    finishInit(exp);
    expect(await ws.head()).toBe(second.base);
    expect(await ws.changedInScope()).toEqual([]);
  });

  it("diffSummary is '' when clean, a bounded diff otherwise", async () => {
    const { root, ws } = await setup();
    await ws.begin();
    expect(await ws.diffSummary()).toBe('');
    write(root, 'src/a.ts', 'export const a = 42;\n');
    write(root, 'src/new.ts', 'brand new\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    const d = await ws.diffSummary();
    expect(d).toContain('M src/a.ts');
    expect(d).toContain('A src/new.ts');
    expect(d).toContain('D src/old.ts');
    expect(d).toContain('-export const a = 1;\n+export const a = 42;');
    expect(d).toContain('+brand new');
    expect(d).toContain('-old');
    write(root, 'src/big.ts', 'line\n'.repeat(3000));
    expect(Buffer.byteLength(await ws.diffSummary())).toBeLessThanOrEqual(4096);
  });

  it('refuses a damaged best instead of guessing', async () => {
    const { exp, ws } = await setup();
    const { base } = await ws.begin();
    fs.rmSync(path.join(exp.snapshot, base, 'manifest.json'));
    await expect(ws.revert(aside())).rejects.toThrow(/missing or damaged/);
  });
});

describe('snapshot mode: a keep killed at any step leaves a whole best', () => {
  const WS = moduleUrl('scripts/lib/workspace.ts');
  const PATHS = moduleUrl('scripts/lib/paths.ts');
  const SCHEMA = moduleUrl('scripts/lib/schema.ts');
  const keepInChild = (root: string) => `
    const { openWorkspace } = await import(${JSON.stringify(WS)});
    const { experimentPaths } = await import(${JSON.stringify(PATHS)});
    const { Config } = await import(${JSON.stringify(SCHEMA)});
    const config = Config.parse({ name: 'exp', metric: 'time_ms', direction: 'lower', command: 'bash bench/run.sh', scope: ['src/**'] });
    const ws = await openWorkspace(${JSON.stringify(root)}, experimentPaths(${JSON.stringify(root)}, 'exp'), config);
    await ws.keep(['src/a.ts', 'src/b.ts', 'src/new.ts', 'src/old.ts'], 'crashy', { 'Autoloop-Run': 'r0001' });
    process.stdout.write('survived');
  `;

  async function crashAt(point: string) {
    const { root, exp, ws } = await setup({}, { ...FILES, 'src/b.ts': 'b\n' });
    const { base } = await ws.begin();
    const best = tree(root);
    write(root, 'src/a.ts', 'candidate a\n');
    write(root, 'src/b.ts', 'candidate b\n');
    write(root, 'src/new.ts', 'candidate new\n');
    fs.rmSync(path.join(root, 'src/old.ts'));
    const candidate = tree(root);
    const r = await runChild(keepInChild(root), { AUTOLOOP_CRASH_AT: point });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    // A fresh process opens the workspace, as the next engine call would.
    const again = await openWorkspace(root, exp, makeConfig({ scope: ['src/**'] }));
    return { root, exp, ws: again, base, best, candidate };
  }

  it('killed while copying (half-written temp dir): the old best is intact and revert restores it', async () => {
    const { root, exp, ws, base, best } = await crashAt('snapshot:copying');
    expect(fs.readdirSync(exp.snapshot).some((n) => n.startsWith('.tmp-'))).toBe(true);
    expect(await ws.head()).toBe(base);
    expect(await ws.findKeep('r0001')).toBeNull();
    expect((await ws.revert(aside())).files).toEqual(['src/a.ts', 'src/b.ts', 'src/new.ts', 'src/old.ts']);
    expect(tree(root)).toEqual(best);
    expect(fs.readdirSync(exp.snapshot)).toEqual([base]);
  });

  it('killed after the new snapshot was renamed into place but before it became current', async () => {
    const { root, exp, ws, base, best } = await crashAt('snapshot:renamed');
    expect(fs.readdirSync(exp.snapshot)).toHaveLength(2);
    expect(await ws.head()).toBe(base);
    expect(await ws.findKeep('r0001')).toBeNull();
    await ws.revert(aside());
    expect(tree(root)).toEqual(best);
    expect(fs.readdirSync(exp.snapshot)).toEqual([base]);
  });

  it('killed after the switch: the new best is current and complete', async () => {
    const { root, exp, ws, base, candidate } = await crashAt('snapshot:saved');
    const head = await ws.head();
    expect(head).not.toBe(base);
    expect(await ws.findKeep('r0001')).toBe(head);
    expect(await ws.changedInScope()).toEqual([]);
    write(root, 'src/a.ts', 'next candidate\n');
    await ws.revert(aside());
    expect(tree(root)).toEqual(candidate);
    expect(fs.readdirSync(exp.snapshot)).toEqual([head]);
  });
});

describe('snapshot mode: a best rewritten behind the engine never comes back as the best', () => {
  // Where the read-only containment is not in force, code under test can reach .autoloop/.
  it('a snapshot file rewritten in place: revert refuses before it moves anything, and so does the best arm', async () => {
    const { root, exp, ws } = await setup();
    const { base } = await ws.begin();
    write(root, 'src/a.ts', 'the candidate\n');
    const copy = path.join(exp.snapshot, base, 'files', 'src/a.ts' + COPY);
    fs.writeFileSync(copy, 'export const a = 0; // forged best\n');
    await expect(ws.revert(aside())).rejects.toThrow(/snapshot .* is missing or damaged .*src\/a.ts is not the content it recorded.*init-experiment/);
    expect(read(root, 'src/a.ts')).toBe('the candidate\n');
    const arm = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-arm-'));
    await expect((ws as SnapshotWorkspace).exportBest(arm)).rejects.toThrow(/damaged/);
    fs.rmSync(arm, { recursive: true, force: true });
  });

  it('a manifest rewritten to fit forged bytes no longer matches its id: refused', async () => {
    const { root, exp, ws } = await setup();
    const { base } = await ws.begin();
    const manifest = path.join(exp.snapshot, base, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { files: Record<string, { sha256: string; size: number }> };
    const forged = 'forged\n';
    fs.writeFileSync(path.join(exp.snapshot, base, 'files', 'src/a.ts' + COPY), forged);
    m.files['src/a.ts'] = { ...m.files['src/a.ts'], sha256: createHash('sha256').update(forged).digest('hex'), size: forged.length } as { sha256: string; size: number };
    fs.writeFileSync(manifest, JSON.stringify(m));
    await expect(ws.changedInScope()).rejects.toThrow(/damaged/);
    await expect(ws.revert(aside())).rejects.toThrow(/damaged/);
    expect(read(root, 'src/a.ts')).toBe(FILES['src/a.ts']);
  });
});
