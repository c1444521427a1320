// A phase's copy of git's files is written while another call of the same
// repository recovers the copies of dead engines (two candidates measured at
// once): a copy whose kept.json is not there yet, or whose files are going, is
// never taken for a dead engine's while its engine lives. Real processes.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { recoverGitFiles } from '../scripts/lib/git-files-journal.ts';
import { procStart } from '../scripts/lib/procs.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A live process standing for another engine: its pid and start. */
function otherEngine(): { child: ChildProcess; pid: number; start: string } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  const pid = child.pid!;
  return { child, pid, start: procStart(pid)! };
}

/** A folder as persistGitFiles leaves it partway: copies written, kept.json not yet (or given). */
function copyDir(root: string, name: string, keptJson?: object): string {
  const dir = path.join(root, '.autoloop/git-kept', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '0'), 'ref: refs/heads/main\n');
  if (keptJson) fs.writeFileSync(path.join(dir, 'kept.json'), JSON.stringify(keptJson));
  return dir;
}

const root = () => fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-kept-race-'));

describe("a phase's copy while another call recovers", () => {
  it('a copy still being written by a live engine (no kept.json yet) is left whole; once that engine is gone it is removed', async () => {
    const repo = root();
    const other = otherEngine();
    const dir = copyDir(repo, `${other.pid}.${other.start}.k1`);
    expect(await recoverGitFiles(repo)).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual(['0']);
    const exited = new Promise((r) => other.child.once('exit', r));
    other.child.kill('SIGKILL');
    await exited;
    expect(await recoverGitFiles(repo)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a pid reused by a newer process is not the engine that wrote the copy: the copy is removed', async () => {
    const repo = root();
    const other = otherEngine();
    const dir = copyDir(repo, `${other.pid}.${Number(other.start) - 1}.k1`);
    await recoverGitFiles(repo);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("a dead engine's kept.json whose copies are gone is removed without an error", async () => {
    const repo = root();
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const record = { pid: dead.pid, start: null, tree: repo, files: [{ file: path.join(repo, '.git/HEAD'), kind: 'head', copy: '7' }], objects: { dir: '', packs: [], alternates: null, caches: [], history: [] } };
    const dir = copyDir(repo, `${dead.pid}.x.k1`, record);
    await expect(recoverGitFiles(repo)).resolves.toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
