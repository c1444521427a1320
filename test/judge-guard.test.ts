// Class 2 of issue 11: the judge cannot change while it judges. Benchmarks and
// checks that attack the engine, run by the real engine on real repositories.
// Where the judges are read-only (readonly-judges.test.ts) these attacks fail
// at the source; here they run in the fallbacks, where the guards after each
// command must catch them: the group containment, and a read-only setup that failed.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engine, fromTemplate, git, ledger, makeRepo } from './helpers/engine.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const write = (repo: string, rel: string, text: string) => fs.writeFileSync(path.join(repo, rel), text);

function init(repo: string, command: string, extra: string[] = [], env: Record<string, string> = {}) {
  const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', 'src/**', ...extra], repo, env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

/**
 * A copy of makeRepo(files, opts) after `prepare` and init: built once per file and key
 * (fromTemplate), so the two fallbacks share it (init runs without the fallback's env:
 * its state is the same for both). Right after init nothing in it names its own path.
 * One sample a run (`--repeats 1`, unless the test gives its own): the benchmarks are
 * deterministic and the subject is the guards after each command, which the first
 * command meets; the two more samples `auto` takes would only repeat it.
 */
function initRepo(files: Record<string, string>, command: string, o: { extra?: string[]; env?: Record<string, string>; git?: boolean; prepare?: (repo: string) => void } = {}): string {
  const key = JSON.stringify(['init', files, command, o.extra ?? [], o.env ?? {}, o.git ?? true, o.prepare?.toString() ?? '']);
  return fromTemplate(key, () => {
    const repo = makeRepo(files, { git: o.git ?? true });
    o.prepare?.(repo);
    init(repo, command, ['--repeats', '1', ...(o.extra ?? [])], o.env);
    return repo;
  });
}

const log = (repo: string, d = 'x') => engine('log-experiment', ['--description', d, '--json'], repo).json as Record<string, unknown>;

// One time for every forged line: a file's set-ups are shared by key (initRepo), and the key holds the benchmark.
const FORGED_TS = new Date().toISOString();

const FALLBACKS: Record<string, Record<string, string>> = {
  group: { AUTOLOOP_CONTAINMENT: 'group' },
  'a failed read-only setup': { AUTOLOOP_FAULT_AT: 'readonly-setup' },
};

for (const [fallback, fallbackEnv] of Object.entries(FALLBACKS)) describe(`the judge cannot change while it judges (${fallback})`, () => {
  const run = (repo: string, env: Record<string, string> = {}) => engine('run-experiment', ['--json'], repo, { ...fallbackEnv, ...env }).json as Record<string, unknown>;
  /**
   * The benchmark that runs src/run.sh (the code under test) after init and a kept baseline under
   * this fallback: built once per fallback (fromTemplate; no best tree yet, nothing names its path).
   */
  const runShBaseline = (): string =>
    fromTemplate(JSON.stringify(['run.sh baseline', fallbackEnv]), () => {
      const repo = initRepo({ 'bench.sh': 'sh src/run.sh\necho METRIC score=$(cat src/v)\n', 'src/run.sh': 'true\n', 'src/v': '10' }, 'sh bench.sh');
      expect(run(repo)).toMatchObject({ status: 'ok' });
      log(repo, 'baseline');
      return repo;
    });
  it('a benchmark that rewrites its own script makes the run invalid; the log puts the script back', () => {
    const bench = 'echo METRIC score=$(cat src/v)\necho "echo METRIC score=0" >> bench.sh\n';
    const repo = initRepo({ 'bench.sh': bench, 'src/v': '10' }, 'sh bench.sh');
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/judge changed while the benchmark ran: bench.sh/);
    expect(log(repo, 'baseline')).toMatchObject({ verdict: 'invalid' });
    expect(read(repo, 'bench.sh')).toBe(bench);
  });

  it('a benchmark that makes its own script non-executable (same bytes) makes the run invalid; the log puts the mode back', () => {
    const bench = '#!/bin/sh\n. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';
    const repo = initRepo({ 'bench.sh': bench, 'src/v': '10', 'src/hook.sh': ':\n' }, './bench.sh', {
      prepare: (r) => {
        fs.chmodSync(path.join(r, 'bench.sh'), 0o755);
        git(r, 'commit', '-qam', 'executable');
      },
    });
    expect(run(repo)).toMatchObject({ status: 'ok' });
    expect(log(repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    write(repo, 'src/hook.sh', 'chmod -x bench.sh\n');
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/judge changed while the benchmark ran: bench.sh/);
    expect(log(repo)).toMatchObject({ verdict: 'invalid' });
    expect(fs.statSync(path.join(repo, 'bench.sh')).mode & 0o777).toBe(0o755);
    // Not one poisoned run after another: the next one measures.
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 10 });
  });

  it('checks that rewrite themselves to pass do not pass', () => {
    const repo = initRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'check.sh': 'echo "exit 0" > check.sh\nexit 1\n', 'src/v': '10' }, 'sh bench.sh', { extra: ['--checks', 'sh check.sh'] });
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/judge changed while the checks ran: check.sh/);
    log(repo, 'baseline');
    expect(read(repo, 'check.sh')).toBe('echo "exit 0" > check.sh\nexit 1\n');
  });

  it("a forged copy of the parsed config (right hash, other fields) is put back and the run is invalid", () => {
    const copy = '.autoloop/experiments/exp/config.parsed.json';
    const forge = `node -e "const f='${copy}',c=JSON.parse(require('fs').readFileSync(f,'utf8'));c.fields.max_runs=1;require('fs').writeFileSync(f,JSON.stringify(c))"`;
    const repo = initRepo({ 'bench.sh': `${forge}\necho METRIC score=$(cat src/v)\n`, 'src/v': '10' }, 'sh bench.sh');
    engine('status', [], repo); // any call writes the copy
    const before = read(repo, copy);
    expect(JSON.parse(before).fields).not.toHaveProperty('max_runs', 1);
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/engine's state changed while the benchmark ran: .*config.parsed.json/);
    expect(read(repo, copy)).toBe(before);
  });

  it('a forged ledger line written by the benchmark is removed and the run is invalid', () => {
    const forged = JSON.stringify({ type: 'result', ts: FORGED_TS, segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 0, samples: [0], metrics: { score: 0 }, description: 'forged', reason: 'x', duration_s: 0 });
    const repo = initRepo({ 'bench.sh': `echo '${forged}' >> .autoloop/experiments/exp/ledger.jsonl\necho METRIC score=$(cat src/v)\n`, 'src/v': '10' }, 'sh bench.sh');
    const before = read(repo, '.autoloop/experiments/exp/ledger.jsonl');
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/engine's state changed while the benchmark ran: .*ledger.jsonl/);
    const after = read(repo, '.autoloop/experiments/exp/ledger.jsonl');
    expect(after.startsWith(before)).toBe(true);
    expect(after).not.toContain('forged');
    log(repo, 'baseline');
    expect(ledger(repo).some((l) => l.description === 'forged')).toBe(false);
  });

  it('a hard link the benchmark gives the ledger (in scratch/) is cut off: a line appended there later never reaches the ledger', () => {
    const X = '.autoloop/experiments/exp';
    const repo = runShBaseline();
    // The code under test (in scope) plants a second name for the ledger where the model may write (an approved redirection).
    write(repo, 'src/run.sh', `mkdir -p ${X}/scratch && ln ${X}/ledger.jsonl ${X}/scratch/l\n`);
    write(repo, 'src/v', '9');
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/ledger\.jsonl \(given a second name by a hard link: cut off\)/);
    expect(fs.statSync(path.join(repo, X, 'ledger.jsonl')).nlink).toBe(1);
    log(repo, 'plant');
    // A forged result appended through the other name stays there.
    const forged = JSON.stringify({ type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0099', status: 'ok', verdict: 'keep', primary: 50, samples: [50], metrics: { score: 50 }, description: 'forged', reason: 'x', duration_s: 0 });
    fs.appendFileSync(path.join(repo, X, 'scratch/l'), `${forged}\n`);
    write(repo, 'src/run.sh', 'true\n');
    write(repo, 'src/v', '20');
    run(repo);
    expect(log(repo, 'worse')).toMatchObject({ verdict: 'discard' });
    expect(ledger(repo).some((l) => l.description === 'forged')).toBe(false);
  });

  it('diagnose runs the code under test guarded as a run does: a forged ledger line is cut off and a rewritten judge put back', () => {
    const bench = 'sh src/run.sh\necho METRIC score=$(cat src/v)\n';
    const repo = runShBaseline();
    expect(read(repo, 'bench.sh')).toBe(bench);
    // A result the next call would take for a killed log to complete: a best of 50, so 20 would win.
    const forged = JSON.stringify({ ...ledger(repo).find((l) => l.type === 'result'), run_id: 'r0002', primary: 50, samples: [50], metrics: { score: 50 }, description: 'forged', files: [] });
    write(repo, 'src/run.sh', `[ -n "$AUTOLOOP_DIAGNOSE" ] && { echo '${forged}' >> .autoloop/experiments/exp/ledger.jsonl; echo 'echo METRIC score=0' >> bench.sh; }\ntrue\n`);
    const d = engine('diagnose', [], repo, fallbackEnv);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/changed the engine's state or a judge while diagnose ran: .*ledger\.jsonl.*bench\.sh \(put back\)/);
    expect(read(repo, 'bench.sh')).toBe(bench);
    expect(ledger(repo).some((l) => l.description === 'forged')).toBe(false);
    write(repo, 'src/run.sh', 'true\n');
    write(repo, 'src/v', '20');
    expect(run(repo)).toMatchObject({ status: 'ok' });
    expect(log(repo, 'worse')).toMatchObject({ verdict: 'discard' });
  });

  it("the ledger's caches the benchmark writes (the commit index finalize replays, the checkpoint) are removed, never trusted; the run stands (status or the dashboard write them too)", () => {
    const X = '.autoloop/experiments/exp';
    const repo = runShBaseline();
    expect(run(repo)).toMatchObject({ status: 'ok' }); // an untouched cache is no tamper
    log(repo, 'same');
    write(repo, 'src/run.sh', `head -c 64 /dev/zero > ${X}/commits.idx; echo '{}' > ${X}/state-checkpoint.json\n`);
    write(repo, 'src/v', '9');
    expect(run(repo)).toMatchObject({ status: 'ok' });
    // Gone, or written again by the engine from the ledger: never what the benchmark left.
    const now = (f: string): string | null => (fs.existsSync(path.join(repo, X, f)) ? read(repo, `${X}/${f}`) : null);
    expect(now('commits.idx')).not.toBe('\0'.repeat(64));
    expect(now('state-checkpoint.json')).not.toBe('{}\n');
  });

  it("the benchmark's environment is the one recorded when the segment opened", () => {
    const repo = initRepo({ 'bench.sh': 'echo METRIC score=$BENCH_LEVEL\n', 'src/v': '1' }, 'sh bench.sh', { env: { BENCH_LEVEL: '7' } });
    const env = JSON.parse(read(repo, '.autoloop/experiments/exp/env.json')) as { vars: Record<string, string> };
    expect(env.vars.BENCH_LEVEL).toBe('7');
    expect(fs.statSync(path.join(repo, '.autoloop/experiments/exp/env.json')).mode & 0o777).toBe(0o600);
    // Whoever calls run-experiment now, with another value and another PATH:
    const r = run(repo, { BENCH_LEVEL: '3', PATH: `/nonexistent:${process.env.PATH}` });
    expect(r).toMatchObject({ status: 'ok', primary: 7 });
  });

  it('snapshot mode protects a script outside the scope that the benchmark sources', () => {
    // The benchmark turns hostile when the candidate asks it to (a file in scope).
    const bench = '. ./lib/helpers.sh\nif [ -f src/attack ]; then echo "fast() { echo 1; }" > lib/helpers.sh; fi\necho METRIC score=$(cat src/v)\n';
    const repo = initRepo({ 'bench.sh': bench, 'lib/helpers.sh': 'fast() { echo 10; }\n', 'src/v': '10' }, 'sh bench.sh', { git: false });
    expect(run(repo)).toMatchObject({ status: 'ok' });
    log(repo, 'baseline');
    write(repo, 'src/attack', '1');
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/changed files outside the scope: lib\/helpers.sh/);
    log(repo, 'attack');
    // The hostile helper stays behind: no later run is measured with it (it would win honestly-looking).
    fs.rmSync(path.join(repo, 'src/attack'), { force: true });
    const again = engine('run-experiment', ['--json'], repo, fallbackEnv);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/lib\/helpers.sh outside the scope still holds what the code under test of r0002 wrote there.*put it back/);
    // A touch is no repair; the bytes put back are.
    fs.utimesSync(path.join(repo, 'lib/helpers.sh'), new Date(), new Date());
    expect(engine('run-experiment', ['--json'], repo, fallbackEnv).code).not.toBe(0);
    write(repo, 'lib/helpers.sh', 'fast() { echo 10; }\n');
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 10 });
  });

  /**
   * Git mode: a run whose benchmark rewrote lib/helpers.sh (tracked, outside the scope; `also` is more
   * the attack does), logged; the next change (src/v 9) waits.
   */
  const taintedRepo = (also = ''): string => fromTemplate(JSON.stringify(['tainted', fallbackEnv, also]), () => {
    const bench = `. ./lib/helpers.sh\nif [ -f src/attack ]; then echo "x=0" > lib/helpers.sh;${also} fi\necho METRIC score=$(( $(cat src/v) * x ))\n`;
    const repo = initRepo({ 'bench.sh': bench, 'lib/helpers.sh': 'x=1\n', 'src/v': '10' }, 'sh bench.sh');
    run(repo);
    log(repo, 'baseline');
    write(repo, 'src/attack', '1');
    expect(run(repo)).toMatchObject({ status: 'invalid' });
    log(repo, 'attack');
    expect(read(repo, 'bench.sh')).toBe(bench);
    fs.rmSync(path.join(repo, 'src/attack'), { force: true });
    write(repo, 'src/v', '9');
    return repo;
  });

  it('git mode: a tracked file outside the scope the benchmark rewrote stops the loop until it is put back', () => {
    const repo = taintedRepo();
    // Measured with the helper the attack left, 9 × 0 would be kept as the best.
    const again = engine('run-experiment', ['--json'], repo, fallbackEnv);
    expect(again.stderr).toMatch(/lib\/helpers.sh outside the scope still holds/);
    git(repo, 'checkout', '--', 'lib/helpers.sh');
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 9 });
  });

  it('git mode: control repair puts the rewritten file back from the last keep, a copy aside, and the loop goes on', () => {
    const repo = taintedRepo();
    const refused = engine('run-experiment', ['--json'], repo, fallbackEnv);
    expect(refused.stderr).toMatch(/lib\/helpers.sh outside the scope still holds .*control repair puts it back/);
    const repaired = engine('control', ['repair'], repo, fallbackEnv);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toMatch(/put back 1 file\(s\) outside the scope that r0002 rewrote \(lib\/helpers.sh; copies in rescued\/repair-/);
    expect(read(repo, 'lib/helpers.sh')).toBe('x=1\n');
    // The rewritten bytes are kept aside, not deleted.
    const rescued = path.join(repo, '.autoloop/experiments/exp/rescued');
    const copies = fs.readdirSync(rescued, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('helpers.sh.autoloop-copy'));
    expect(copies).toHaveLength(1);
    expect(fs.readFileSync(path.join(rescued, copies[0] as string), 'utf8')).toBe('x=0\n');
    expect(ledger(repo).some((l) => l.event === 'outside_change' && (l.data as { restored?: boolean }).restored === true)).toBe(true);
    // The in-scope change waiting to be measured is untouched, and is measured with the helper as the best was.
    expect(read(repo, 'src/v')).toBe('9');
    expect(run(repo)).toMatchObject({ status: 'ok', primary: 9 });
  });

  it('a benchmark that touches its own script as well as the helper it sources: the helper still stops the loop', () => {
    // The log put the judge back (taintedRepo checks it); the helper is what still judges.
    const repo = taintedRepo(' echo "#" >> bench.sh;');
    expect(engine('run-experiment', ['--json'], repo, fallbackEnv).stderr).toMatch(/lib\/helpers.sh outside the scope still holds/);
  });

  it('snapshot mode sets aside a change outside the scope made between runs, as git mode does', () => {
    const repo = initRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'lib/x.txt': 'a', 'src/v': '10' }, 'sh bench.sh', { git: false });
    run(repo);
    log(repo, 'baseline');
    write(repo, 'lib/x.txt', 'b');
    write(repo, 'src/v', '9');
    const r = run(repo);
    expect(r).toMatchObject({ status: 'ok' });
    expect(String((r.warnings as string[])[0])).toMatch(/set aside.*lib\/x.txt/);
    expect(log(repo, 'better')).toMatchObject({ verdict: 'keep' });
  });

  it('a git repository: the judges and the engine files are checked after the checks as well', () => {
    const repo = initRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'check.sh': 'echo "# touched" >> bench.sh\n', 'src/v': '10' }, 'sh bench.sh', { extra: ['--checks', 'sh check.sh'] });
    const r = run(repo);
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/while the checks ran: bench.sh/);
    log(repo, 'baseline');
    expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe('');
  });
});

// A forced containment mode never tries the read-only setup, so the fallback
// that fails it changes nothing here: these run once, not once per fallback.
describe('a METRIC line printed after the main process exited', () => {
  for (const mode of ['pidns', 'group']) {
    it(`is ignored (${mode})`, () => {
      // The helper outlives the main process and prints when it is told to stop. The main process
      // ends only once the helper's trap is set (it says so in .up), and the grace is long enough for
      // a loaded machine to run the trap: a helper killed first would print nothing, whatever the engine does.
      const bench = 'sh -c \'trap "echo METRIC score=1; exit 0" TERM; : > .up; while :; do sleep 0.05; done\' &\nwhile [ ! -e .up ]; do sleep 0.01; done\necho METRIC score=$(cat src/v)\n';
      // Init runs without the mode's env: both modes start from one copy (initRepo).
      const repo = initRepo({ 'bench.sh': bench, 'src/v': '10', '.gitignore': '.up\n' }, 'sh bench.sh', { extra: ['--grace', '60'] });
      const r = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CONTAINMENT: mode }).json as Record<string, unknown>;
      expect(r).toMatchObject({ status: 'ok', primary: 10 });
      // Under the group mode the helper lives long enough to print: the line is in the log, and ignored.
      if (mode === 'group') expect(read(repo, '.autoloop/experiments/exp/runs/r0001/output.log')).toMatch(/METRIC score=1\n/);
    });
  }
});

describe('a git filter the benchmark installs in .git/config', () => {
  it("never runs on the engine's own git commands after the benchmark (it would run outside any containment)", () => {
    // .git/ stays writable under every containment: the benchmark defines a
    // clean filter for every file and makes the in-scope files stat-dirty, so
    // the engine's next status would hash them through it.
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-marker-')), 'ran');
    const bench = [
      'v=$(cat src/v)',
      'if [ "$v" = 9 ]; then',
      `  git config filter.evil.clean "sh -c 'echo ran >> ${marker}; cat'"`,
      // Through core.attributesFile: git's info/attributes is recorded with the ignore rules (a change there voids the run).
      `  echo "* filter=evil" > ${marker}.attributes`,
      `  git config core.attributesFile ${marker}.attributes`,
      '  touch src/v src/w',
      'fi',
      'echo METRIC score=$v',
    ].join('\n');
    const repo = makeRepo({ 'bench.sh': bench + '\n', 'src/v': '10', 'src/w': 'w\n' });
    init(repo, 'sh bench.sh');
    engine('run-experiment', [], repo);
    expect(log(repo, 'baseline')).toMatchObject({ verdict: 'keep' });
    write(repo, 'src/v', '9');
    const r = engine('run-experiment', ['--json'], repo).json as Record<string, unknown>;
    expect(r).toMatchObject({ status: 'ok', primary: 9 });
    expect(log(repo, 'better')).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(marker)).toBe(false);
    expect(git(repo, 'config', 'filter.evil.clean')).toMatch(/ran/);
  });
});
