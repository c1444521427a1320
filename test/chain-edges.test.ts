// chain, finalize and report at their edges: a chain killed after its child
// opened, finished by whichever engine call comes next; a parent whose branch
// moved or went; kept changes of an earlier segment measured on another
// metric; branch names git refuses only when the ref is written.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { baselineRepo, engine, iterate, ledger } from './helpers/engine.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const expDir = (repo: string, slug = 'exp') => path.join(repo, '.autoloop', 'experiments', slug);

describe('a chain killed after its child opened', () => {
  it('is completed by the next engine call, not only by chain or repair: the decision, the trail and the budget are there for the child', () => {
    // The parent terminated by its baseline (max_runs 1); the child may run once, and the chain allows no second follow-up.
    const repo = baselineRepo('100', ['--max-runs', '1']);
    const args = ['--from', 'exp', '--name', 'child', '--rationale', 'go on', '--max-runs', '1', '--budget', '1'];
    expect(engine('chain', args, repo, { AUTOLOOP_CRASH_AT: 'chain:after-init' }).code).not.toBe(0);
    // The loop goes on in the child, as the session would after a restart: its baseline.
    const { run, log } = iterate(repo, 'baseline');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/reconciled: completed the follow-up child of exp/);
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(repo, '.autoloop', 'chain.pending.json'))).toBe(false);
    expect(fs.existsSync(path.join(expDir(repo, 'child'), 'chain-decision.json'))).toBe(true);
    expect((JSON.parse(read(repo, '.autoloop/chain.json')) as { chains: { trail: string[] }[] }).chains[0]?.trail).toEqual(['exp', 'child']);
    expect(ledger(repo).filter((l) => l.event === 'chain')).toHaveLength(1);
    // The child terminated: the Stop hook must not push it into a follow-up the budget (1) does not allow.
    expect(JSON.parse(read(repo, '.autoloop/active.json'))).toMatchObject({ experiment: 'child', loop: 'terminated', chain_allowed: false });
  });
});
