// An engine killed (kill -9) at any step of a phase whose code under test left
// git's config unparsable and planted a forged pack: the git files the phase
// found are on disk (git-files-journal.ts), so the next call, or control
// repair, puts back what git cannot read and sets the forgery aside, and the
// loop goes on. Real engine, real repositories, real git, real kills.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { PACK_FORGER } from './helpers/forge.ts';
import { engine, engineAsync, fromTemplate, git, makeRepo, ROOT } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

// A config line git cannot parse (every git command fails), and a pack that forges the measured blob.
const ATTACK = 'node forge.js .git/objects "$(git hash-object src/v)" "1000\n"\nprintf "[core\\n" >> .git/config\n';

const kept = (repo: string) => (fs.existsSync(path.join(repo, '.autoloop/git-kept')) ? fs.readdirSync(path.join(repo, '.autoloop/git-kept')) : []);

/** A repository whose loop kept a baseline of 50, with a change to 40 whose benchmark runs `hook` first. */
function start(hook: string): { repo: string; id: string } {
  // The kept baseline, built once for the file and copied per test (fromTemplate; right after the baseline nothing names its own path).
  const repo = fromTemplate('git-kept-kill:baseline', () => {
    const t = makeRepo({ 'bench.sh': BENCH, 'forge.js': PACK_FORGER, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], t);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], t).json).toMatchObject({ verdict: 'keep' });
    return t;
  });
  fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
  fs.writeFileSync(path.join(repo, 'src/hook.sh'), hook);
  return { repo, id: git(repo, 'hash-object', 'src/v') };
}

/** The next call measures and keeps the change; then git reads the repository, the measured blob is its own bytes, no copy is left. */
function goesOn(repo: string, id: string): void {
  fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
  const r = engine('run-experiment', ['--description', 'again', '--json'], repo);
  expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
  git(repo, 'status');
  expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
  expect(git(repo, 'show', 'HEAD:src/v')).toBe('40');
  expect(kept(repo)).toEqual([]);
}

/** run-experiment killed with SIGKILL while the benchmark sleeps, after the attack (the marker file says when). */
async function killMidBenchmark(repo: string, cwd = repo, env: Record<string, string> = {}): Promise<void> {
  const child = engineAsync('run-experiment', ['--json'], cwd, env);
  const marker = path.join(cwd, '.attacked');
  for (let i = 0; !fs.existsSync(marker); i++) {
    expect(i, 'the benchmark never attacked').toBeLessThan(6000);
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('an engine killed mid-phase after its benchmark broke git', () => {
  for (const point of ['git-kept:copied', 'phase:git-kept', 'phase:git-restored', 'phase:git-checked']) {
    it(`killed at ${point}: the next call puts git's files back and sets the forgery aside`, () => {
      const { repo, id } = start(ATTACK);
      const killed = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CRASH_AT: point });
      expect(killed.code, killed.stderr).toBeNull(); // SIGKILL
      goesOn(repo, id);
    });
  }

  it('killed while the benchmark runs: the next run puts the config back, sets the pack aside and measures', async () => {
    const { repo, id } = start(`${ATTACK}touch .attacked; sleep 60\n`);
    await killMidBenchmark(repo);
    expect(() => git(repo, 'status')).toThrow(/bad config/); // the attack took place, and its engine is gone
    goesOn(repo, id);
  });

  it('killed while the benchmark runs, then control repair: git reads the repository again', async () => {
    const { repo, id } = start(`${ATTACK}touch .attacked; sleep 60\n`);
    await killMidBenchmark(repo);
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr).toMatch(/put back git's \.git\/config/);
    expect(git(repo, 'cat-file', 'blob', id)).toBe('40');
    expect(kept(repo)).toEqual([]);
  });

  it('killed again in the middle of that recovery: the call after it finishes it', async () => {
    const { repo, id } = start(`${ATTACK}touch .attacked; sleep 60\n`);
    await killMidBenchmark(repo);
    const again = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CRASH_AT: 'git-kept:restored' });
    expect(again.code, again.stderr).toBeNull();
    git(repo, 'status'); // the config is back
    expect(kept(repo)).not.toEqual([]); // the forged pack is not yet set aside
    goesOn(repo, id);
  });

  it("a parallel candidate's engine killed while its benchmark holds the common config broken: the candidate's next run puts it back", async () => {
    const TIMING = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) };
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--parallel', '2', '--parallel-timing', 'parallel'], repo, TIMING);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo, TIMING).json).toMatchObject({ verdict: 'keep' });
    const c = engine('candidate', ['start', '--json'], repo, TIMING).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'src/v'), '40\n');
    fs.writeFileSync(path.join(c.path, 'src/hook.sh'), 'printf "[core\\n" >> "$(git rev-parse --git-common-dir)/config"; touch .attacked; sleep 60\n');
    await killMidBenchmark(repo, c.path, TIMING);
    expect(() => git(repo, 'status')).toThrow(/bad config/);
    fs.writeFileSync(path.join(c.path, 'src/hook.sh'), ':\n');
    fs.rmSync(path.join(c.path, '.attacked'));
    const r = engine('run-experiment', ['--json'], c.path, TIMING);
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', primary: 40 });
    expect(r.stderr).toMatch(/put back git's \.git\/config/);
    git(repo, 'status');
    expect(kept(repo)).toEqual([]);
  });
});
