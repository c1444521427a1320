// A candidate's guard killed (kill -9, AUTOLOOP_CRASH_AT) while it takes a
// forged line out of the shared ledger, with a second candidate whose seal was
// taken while the forged line stood: the second candidate's guard must never
// put the forged line back, and never take out a real line. The removal and
// its note (the `tamper` event naming the lines) are one write.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, fromTemplate, ledger, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const FORGED = JSON.stringify({ type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 0, samples: [0], metrics: { score: 0 }, description: 'forged', reason: 'x', duration_s: 0 });

// src/name says which candidate it is; src/forge makes its benchmark append the forged line first.
const BENCH = `if [ -f src/forge ]; then
  root=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")
  echo '${FORGED}' >> "$root/.autoloop/experiments/exp/ledger.jsonl"
fi
if [ -f src/name ]; then
  n=$(cat src/name)
  touch "$GATE_DIR/up-$n"
  while [ ! -f "$GATE_DIR/go-$n" ]; do sleep 0.05; done
fi
echo METRIC score=$(cat src/v)
`;

// pidns: the ledger is writable to the benchmark (under readonly the forgery fails with EROFS).
const ENV = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`), AUTOLOOP_CONTAINMENT: 'pidns' };
const GATE = tmpDir('autoloop-guard-kill-');
const made: string[] = [];
const templates: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  for (const f of fs.readdirSync(GATE)) fs.rmSync(path.join(GATE, f), { force: true });
});
afterAll(() => {
  for (const d of templates.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function repo(): string {
  const dir = fromTemplate('candidate-guard-kill', () => {
    const t = makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n' });
    templates.push(t);
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel'], t, { ...ENV, GATE_DIR: GATE });
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], t, ENV).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], t, ENV).code).toBe(0);
    return t;
  });
  made.push(dir);
  return dir;
}

function open(dir: string, files: Record<string, string>): string {
  const c = engine('candidate', ['start', '--json'], dir, ENV).json as { candidate: string; path: string };
  for (const [rel, text] of Object.entries(files)) fs.writeFileSync(path.join(c.path, rel), text);
  return c.candidate;
}


const ledgerText = (dir: string) => fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8');

describe("a candidate's ledger guard killed mid-removal", { timeout: 600_000 }, () => {
  for (const point of ['none', 'mid-benchmark', 'guard:ledger-checked', 'guard:ledger-rewritten']) {
    it(`${point === 'none' ? 'not killed' : `killed at ${point}`}: the forged line stays out, the other candidate's run is clean, no real line lost`, async () => {
      const dir = repo();
      const forger = open(dir, { 'src/v': '5\n', 'src/forge': 'x\n', 'src/name': 'a\n' });
      const other = open(dir, { 'src/v': '7\n', 'src/name': 'b\n' });
      const child = engineAsync('run-experiment', ['--candidate', forger, '--json'], dir, { ...ENV, AUTOLOOP_CRASH_AT: point });
      const a = finished(child);
      await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
      expect(ledgerText(dir)).toContain('"forged"');
      // The other candidate's seal is taken now, while the forged line stands.
      const b = finished(engineAsync('run-experiment', ['--candidate', other, '--json'], dir, ENV));
      await waitFor(() => fs.existsSync(path.join(GATE, 'up-b')));
      const real = ledgerText(dir).split('\n').filter((l) => l !== '' && !l.includes('"forged"'));
      // kill -9 of the engine while its benchmark runs, or at a crash point of its guard's cut.
      if (point === 'mid-benchmark') child.kill('SIGKILL');
      else fs.writeFileSync(path.join(GATE, 'go-a'), '');
      expect((await a).code).toBe(point === 'none' ? 0 : null);
      // Cut by the guard itself, or (killed before its cut) by the next ledger-locked call: the other candidate's guard.
      const cutNow = point === 'none' || point === 'guard:ledger-rewritten';
      expect(ledgerText(dir).includes('"forged"')).toBe(!cutNow);
      fs.writeFileSync(path.join(GATE, 'go-b'), '');
      const rb = await b;
      expect(rb.code, rb.err).toBe(0);
      expect(JSON.parse(rb.out)).toMatchObject({ status: 'ok', primary: 7 });
      const after = ledgerText(dir);
      expect(after).not.toContain('"forged"');
      for (const l of real) expect(after.split('\n')).toContain(l);
      // The other candidate is kept against the baseline's 10, not discarded against a forged 0.
      // (Also when not killed: the other candidate's state, folded with the forged line, is folded again from the rewritten ledger.)
      const logged = engine('log-experiment', ['--candidate', other, '-d', 'seven', '--json'], dir, ENV);
      expect(logged.json, logged.stderr).toMatchObject({ verdict: 'keep' });
      expect(ledger(dir).some((l) => l.description === 'forged')).toBe(false);
    });
  }

  it("killed mid-benchmark, the forger's own next call is the first to look: the forged line is cut, and it is measured again", async () => {
    const dir = repo();
    const forger = open(dir, { 'src/v': '5\n', 'src/forge': 'x\n', 'src/name': 'a\n' });
    const child = engineAsync('run-experiment', ['--candidate', forger, '--json'], dir, ENV);
    const a = finished(child);
    await waitFor(() => fs.existsSync(path.join(GATE, 'up-a')));
    child.kill('SIGKILL');
    expect((await a).code).toBe(null);
    expect(ledgerText(dir)).toContain('"forged"');
    const real = ledgerText(dir).split('\n').filter((l) => l !== '' && !l.includes('"forged"'));
    // Measured again without the attack (and without the gate).
    const tree = path.join(dir, '.autoloop/experiments/exp/candidates', forger, 'tree');
    fs.rmSync(path.join(tree, 'src/forge'));
    fs.rmSync(path.join(tree, 'src/name'));
    const again = engine('run-experiment', ['--candidate', forger, '--json'], dir, ENV);
    expect(again.json, again.stderr).toMatchObject({ status: 'ok', primary: 5 });
    const after = ledgerText(dir);
    expect(after).not.toContain('"forged"');
    for (const l of real) expect(after.split('\n')).toContain(l);
    expect(engine('log-experiment', ['--candidate', forger, '-d', 'five', '--json'], dir, ENV).json).toMatchObject({ verdict: 'keep' });
  });
});
