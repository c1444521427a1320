// finalize twice at once: both build the same branch, one creates it. The
// other, held off until then, finds it made and says so (our default name
// holding exactly these commits), or refuses in one line (a name asked for):
// never git's own error with exit 1, never a branch moved.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { benchRepo, git, init, run, step } from './helpers/loop.ts';
import { engineAsync, waitFor } from './helpers/engine.ts';

async function heldFinalize(repo: string, args: string[], beside: () => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = engineAsync('finalize', args, repo, { AUTOLOOP_STOP_AT: 'finalize:branch', AUTOLOOP_DEBUG: '' });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
  const stopped = () => {
    try {
      return fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
    } catch {
      return false;
    }
  };
  await waitFor(stopped);
  beside();
  p.kill('SIGCONT');
  return { code: await exited, stdout, stderr };
}

describe('two finalize calls at once', () => {
  it('the one that comes second reports the branch the first made (default name), or refuses a name asked for in one line', async () => {
    const repo = benchRepo('100');
    expect(init(repo, 'f', ['--max-runs', '2']).code).toBe(0);
    step(repo, 'baseline');
    step(repo, 'lower to 90', '90');

    let first = '';
    const second = await heldFinalize(repo, [], () => {
      const r = run('finalize', [], repo);
      expect(r.code, r.stderr).toBe(0);
      first = git(repo, 'rev-parse', 'autoloop/f-final');
    });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^branch autoloop\/f-final already held these kept changes \(finalized before; nothing created\)/);
    expect(git(repo, 'rev-parse', 'autoloop/f-final')).toBe(first);

    const asked = await heldFinalize(repo, ['--branch', 'review'], () => {
      expect(run('finalize', ['--branch', 'review'], repo).code).toBe(0);
    });
    expect(asked.code).toBe(2);
    expect(asked.stderr.trim().split('\n')).toEqual(['finalize: branch review already exists: pass --branch NAME (or delete it)']);
    expect(git(repo, 'rev-parse', 'review^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/f^{tree}'));
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
  });
});
