// Parallel mode: a loose object of the best rewritten in place by one
// candidate's benchmark (loose-forged.ts) is found by whichever engine's phase
// ends first, and that was who took the blame. It is the run whose command ran
// when the object was written that is void (loose-blame.ts): (1) found by an
// innocent candidate whose command had ended before the write (pidns: nothing
// of it outlives its command), the forger's run is invalid and the innocent
// one is measured as usual; (2) written while both candidates' commands ran,
// the engine cannot tell which: both runs are void, and it says so. Real
// engine, git, processes; the order is held by files and the repository's lock.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, git, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { acquireLock } from '../scripts/lib/lock.ts';
import { LOOSE_FORGER } from './helpers/forge.ts';

// src/name: wait at a gate ($GATE_DIR/go-<name>); src/forge: first rewrite the best's loose blob of src/v (its id in
// src/forge) once $GATE_DIR/forge-now is there, as the bytes of "1000\n". src/ten holds the blob's bytes: the finder makes it again.
const GATE = tmpDir('autoloop-forged-loose-');
const BENCH = `if [ -f src/name ]; then
  n=$(cat src/name)
  touch "$GATE_DIR/up-$n"
  if [ -f src/forge ]; then
    while [ ! -f "$GATE_DIR/forge-now" ]; do sleep 0.05; done
    node "$GATE_DIR/forge.js" "$(git rev-parse --path-format=absolute --git-common-dir)/objects" "$(cat src/forge)"
    touch "$GATE_DIR/forged"
  fi
  while [ ! -f "$GATE_DIR/go-$n" ]; do sleep 0.05; done
fi
echo METRIC score=$(cat src/v)
`;

const ENV = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`), AUTOLOOP_CONTAINMENT: 'pidns', GATE_DIR: GATE };
const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  for (const f of fs.readdirSync(GATE)) fs.rmSync(path.join(GATE, f), { force: true });
});
afterAll(() => fs.rmSync(GATE, { recursive: true, force: true }));

const EXP = '.autoloop/experiments/exp';

function repo(): { dir: string; id: string } {
  const dir = makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n' });
  made.push(dir);
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel'], dir, ENV);
  expect(init.code, init.stderr).toBe(0);
  expect(engine('run-experiment', [], dir, ENV).code).toBe(0);
  expect(engine('log-experiment', ['-d', 'baseline'], dir, ENV).code).toBe(0);
  fs.writeFileSync(path.join(GATE, 'forge.js'), LOOSE_FORGER);
  const id = git(dir, 'rev-parse', 'HEAD:src/v');
  expect(fs.existsSync(path.join(dir, '.git/objects', id.slice(0, 2), id.slice(2)))).toBe(true);
  return { dir, id };
}

function open(dir: string, files: Record<string, string>): string {
  const c = engine('candidate', ['start', '--json'], dir, ENV).json as { candidate: string; path: string };
  for (const [rel, text] of Object.entries(files)) fs.writeFileSync(path.join(c.path, rel), text);
  return c.candidate;
}

const runOf = (dir: string, id: string): string | null => (JSON.parse(fs.readFileSync(path.join(dir, EXP, 'candidates', id, 'candidate.json'), 'utf8')) as { run_id: string | null }).run_id;
/** The run's last command has ended (its window closed): nothing of it runs any more. */
const commandEnd = (dir: string, id: string): number | null => {
  const run = runOf(dir, id);
  const file = run && path.join(dir, EXP, 'runs', run, 'windows.json');
  if (!file || !fs.existsSync(file)) return null;
  const w = JSON.parse(fs.readFileSync(file, 'utf8')) as { end: number | null }[];
  return w.at(-1)?.end ?? null;
};
const touch = (name: string) => fs.writeFileSync(path.join(GATE, name), '');
const up = (name: string) => fs.existsSync(path.join(GATE, name));
const start = (dir: string, id: string) => finished(engineAsync('run-experiment', ['--candidate', id, '--json'], dir, ENV));

describe('a forged loose object in parallel mode voids the run that wrote it', { timeout: 600_000 }, () => {
  it("found by a candidate whose command had ended: the forger's run is invalid, the finder's is not", async () => {
    const { dir, id } = repo();
    const innocent = open(dir, { 'src/v': '7\n', 'src/name': 'b\n', 'src/ten': '10\n' });
    const forger = open(dir, { 'src/v': '5\n', 'src/name': 'a\n', 'src/forge': `${id}\n`, 'src/ten': '10\n' });
    const b = start(dir, innocent);
    await waitFor(() => up('up-b'));
    const a = start(dir, forger);
    await waitFor(() => up('up-a'));
    // The innocent's command ends; its engine then waits for the repository's lock, its phase still open.
    const lock = acquireLock(path.join(dir, '.autoloop', 'lock'), 'test');
    touch('go-b');
    await waitFor(() => commandEnd(dir, innocent) !== null);
    // Past the timestamps' grain (loose-blame.ts SLACK_MS): the write is provably after its command.
    const ended = commandEnd(dir, innocent)!;
    await waitFor(() => Date.now() > ended + 150);
    touch('forge-now');
    await waitFor(() => up('forged'));
    lock.release();
    // Its phase ends first: it finds the forged object, sets it aside, and is measured as usual.
    const rb = await b;
    expect(rb.code, rb.err).toBe(0);
    expect(JSON.parse(rb.out), rb.err).toMatchObject({ status: 'ok', primary: 7 });
    expect(git(dir, 'cat-file', 'blob', id)).toBe('10');
    touch('go-a');
    const ra = await a;
    expect(ra.code, ra.err).toBe(0);
    const forged = JSON.parse(ra.out) as { status: string; reason: string };
    expect(forged.status).toBe('invalid');
    expect(forged.reason).toMatch(/loose objects rewritten while a command of this run ran/);
    expect(forged.reason).toContain(`found by ${runOf(dir, innocent)}`);
  });

  it('written while both commands ran: both runs are void, and the engine says it cannot tell which', async () => {
    const { dir, id } = repo();
    const other = open(dir, { 'src/v': '7\n', 'src/name': 'b\n', 'src/ten': '10\n' });
    const forger = open(dir, { 'src/v': '5\n', 'src/name': 'a\n', 'src/forge': `${id}\n`, 'src/ten': '10\n' });
    const b = start(dir, other);
    await waitFor(() => up('up-b'));
    const a = start(dir, forger);
    await waitFor(() => up('up-a'));
    touch('forge-now');
    await waitFor(() => up('forged'));
    touch('go-b');
    const rb = await b;
    expect(rb.code, rb.err).toBe(0);
    expect(JSON.parse(rb.out)).toMatchObject({ status: 'invalid' });
    touch('go-a');
    const ra = await a;
    expect(ra.code, ra.err).toBe(0);
    const r = JSON.parse(ra.out) as { status: string; reason: string };
    expect(r.status).toBe('invalid');
    expect(r.reason).toMatch(/cannot be told which of r\d+, r\d+/);
    expect(git(dir, 'cat-file', 'blob', id)).toBe('10');
  });
  it('a finding made after the run was measured that names it: its log is invalid, nothing kept', () => {
    const { dir, id } = repo();
    const c = open(dir, { 'src/v': '5\n' });
    const r = engine('run-experiment', ['--candidate', c, '--json'], dir, ENV);
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', primary: 5 });
    const run = runOf(dir, c)!;
    const head = git(dir, 'rev-parse', 'autoloop/exp');
    // As another run's check records one (loose-blame.ts), after this run's phases ended.
    fs.appendFileSync(path.join(dir, '.autoloop', 'forged-loose.jsonl'), `${JSON.stringify({ id, ctime: Date.now(), found_by: 'r0099', suspects: [run], unattributed: true, at: Date.now() })}\n`);
    const logged = engine('log-experiment', ['--candidate', c, '-d', 'five', '--json'], dir, ENV);
    expect(logged.json, logged.stderr).toMatchObject({ verdict: 'invalid' });
    expect(JSON.stringify(logged.json)).toContain('found after the run was measured');
    expect(git(dir, 'rev-parse', 'autoloop/exp')).toBe(head);
  });
});
