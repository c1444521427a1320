// Journeys of a demanding user, round 4: habits of a loop that runs for hours
// without the shell it was set up from. Through the bundled engine on real
// git repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HANG_GUARD = { timeout: 600_000 };

describe('round 4 journeys', () => {
  it("gives a chain's follow-up the environment its parent was set up with, not the chaining session's", HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': ': "${BENCH_SIZE:?BENCH_SIZE must be set}"\necho "METRIC n=$(( $(cat v.txt) * BENCH_SIZE ))"\n' });
    const setup = { BENCH_SIZE: '3' };
    const init = engine('init-experiment', ['--name', 'p', '--metric', 'n', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'v.txt', '--repeats', '1', '--max-runs', '1'], repo, setup);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 15 });
    // The headless session that chains (and runs the follow-up) never had BENCH_SIZE.
    expect(process.env.BENCH_SIZE).toBeUndefined();
    const chain = engine('chain', ['--name', 'q', '--rationale', 'budget spent; go on', '--max-runs', '5'], repo);
    expect(chain.code, chain.stderr).toBe(0);
    // Was: the follow-up's baseline crashed ("BENCH_SIZE must be set"), the unattended loop stuck on it.
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 15 });
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    expect(engine('run-experiment', ['--description', 'four', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 12 });
    // A new segment opened by hand records the caller's environment, as before.
    const again = engine('init-experiment', ['--name', 'q', '--metric', 'n', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'v.txt', '--repeats', '1'], repo, { BENCH_SIZE: '2' });
    expect(again.code, again.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'rebase', '--json'], repo).json).toMatchObject({ primary: 8 });
  });

  it('counts runs without improvement the same in the health line and the plateau budget after a rebaseline', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': 'echo "METRIC n=$(cat v.txt)"\n' });
    const init = engine('init-experiment', ['--name', 'p', '--metric', 'n', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'v.txt', '--repeats', '1', '--plateau', '3'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '6\n');
    expect(engine('run-experiment', ['--description', 'six', '--json'], repo).json).toMatchObject({ verdict: 'discard' });
    expect(engine('run-experiment', ['--description', 'rebaseline', '--json'], repo).json).toMatchObject({ verdict: 'discard', primary: 5 });
    const status = engine('status', [], repo).stdout;
    // Was: "health: running: discarded; 2 runs without improvement" beside "plateau 1/3".
    expect(status).toContain('plateau 1/3');
    expect(status).toMatch(/health: running: the unchanged best was re-measured; 1 run without improvement/);
    fs.writeFileSync(path.join(repo, 'v.txt'), '7\n');
    engine('run-experiment', ['--description', 'seven'], repo);
    fs.writeFileSync(path.join(repo, 'v.txt'), '8\n');
    const last = engine('run-experiment', ['--description', 'eight', '--json'], repo).json;
    expect(last).toMatchObject({ verdict: 'discard', should_terminate: true });
  });
});
