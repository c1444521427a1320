// An `up` killed outright (SIGKILL: no handler runs) must take its claude
// session down with it, and whatever that session started in its group. The
// bundled `up` on a real repository, with a stand-in claude (a shell script
// that starts a long child and waits), killed once both are running.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { engineAsync, initValue, valueRepo, waitFor } from './helpers/engine.ts';
import { pidAlive } from '../scripts/lib/procs.ts';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function standInClaude(dir: string, pidFile: string): string {
  const file = path.join(dir, 'claude-stand-in');
  fs.writeFileSync(file, `#!/bin/sh\nsleep 600 &\necho "$$ $!" > '${pidFile}'\nwait\n`, { mode: 0o755 });
  return file;
}

describe('up killed outright', () => {
  it('SIGKILL of up ends its claude session and the processes the session started', async () => {
    const repo = valueRepo();
    expect(initValue(repo).code).toBe(0);
    const dir = fs.mkdtempSync(path.join(path.dirname(repo), 'claude-'));
    const pidFile = path.join(dir, 'pids');
    const up = engineAsync('up', ['--claude', standInClaude(dir, pidFile)], repo);
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'));
    const pids = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    started.push(...pids);
    expect(pids.every((p) => pidAlive(p))).toBe(true);

    up.kill('SIGKILL');
    await waitFor(() => pids.every((p) => !pidAlive(p)));
    expect(pids.filter((p) => pidAlive(p))).toEqual([]);
  });
});
