// The Slurm runner for users who are not root, on the real test cluster
// (test/helpers/slurm.ts): `nobody` submits the jobs, they run as `nobody`,
// the run's files are its own; a uid with no account on the machine (which
// Slurm cannot run a job for: its controller requeues the job, held, for
// ever) is refused before anything is submitted, in one line.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/engine.ts';
import { ensureSlurm, slurmAdmin } from './helpers/slurm.ts';
import { hasSetpriv, isRoot, makeUser, NOBODY, type User } from './helpers/as-user.ts';

const EXP = '.autoloop/experiments/exp';
/** No passwd entry on this machine. */
const ACCOUNTLESS = 4077;
let env: Record<string, string>;

function slurmRepo(user: User): string {
  const repo = user.repo('nonroot-slurm', () => makeRepo({ 'bench.sh': 'echo "ids $(id -u) $(id -g)"\necho METRIC score=$(cat src/v)\n', 'src/v': '10\n' }));
  const init = user.engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--timeout', '120', '--runner', 'slurm', '--slurm-mem', '100M'], repo, { env });
  expect(init.code, init.stderr).toBe(0);
  return repo;
}

describe.skipIf(!isRoot || !hasSetpriv)('the Slurm runner for a user who is not root', { timeout: 600_000 }, () => {
  beforeAll(() => {
    env = ensureSlurm().env;
  }, 900_000);

  it('nobody: its jobs run as nobody, the run\'s log and record are its own, its keep is committed', () => {
    const user = makeUser(NOBODY);
    const repo = slurmRepo(user);
    expect(user.engine('run-experiment', ['-d', 'baseline', '--json'], repo, { env }).json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 10 });
    user.sh(repo, 'echo 5 > src/v');
    expect(user.engine('run-experiment', ['-d', 'keep', '--json'], repo, { env }).json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 5 });
    const run = path.join(repo, EXP, 'runs/r0002');
    expect(fs.readFileSync(path.join(run, 'output.log'), 'utf8')).toContain(`ids ${NOBODY} ${NOBODY}`);
    for (const f of fs.readdirSync(run)) {
      const st = fs.statSync(path.join(run, f));
      expect([f, st.uid, (st.mode & 0o777).toString(8)]).toEqual([f, NOBODY, '644']);
    }
    expect(fs.readdirSync(run).filter((f) => f.startsWith('.slurm-'))).toEqual([]); // the job's own output file, copied and gone
    expect(user.sh(repo, 'git log --format=%s -1')).toMatch(/keep/);
  });

  it('a uid with no account here: refused before any job is submitted, one line, nothing counted', () => {
    const user = makeUser(ACCOUNTLESS);
    const repo = slurmRepo(user);
    const r = user.engine('run-experiment', ['-d', 'baseline', '--json'], repo, { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `run-experiment: r0001 not run: this user (uid ${ACCOUNTLESS}) has no account on this machine (no passwd entry), so Slurm cannot run a job for it (the controller cannot make its credential and requeues it, held, for ever); run the loop as a user the cluster knows, or with runner: local; fix the runner's settings in config.yaml\n`,
    );
    // squeue -u wants a name this uid lacks: every job with its numeric uid.
    const jobs = slurmAdmin('squeue', ['-h', '-o', '%i %U']).out.split('\n');
    expect(jobs.filter((l) => l.endsWith(` ${ACCOUNTLESS}`))).toEqual([]);
    // Noted as interrupted (nothing counted), as any run a configuration keeps from running.
    const lines = fs.readFileSync(path.join(repo, EXP, 'ledger.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; event?: string });
    expect(lines.map((l) => l.event ?? l.type)).toEqual(['config', 'interrupted']);
  });
});
