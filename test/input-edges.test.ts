// Bad or awkward input met by the real engine on real repositories: a flag
// given twice, a page written into a folder that is not there, a ledger
// without its config line, a damaged workspace.json, a number with thousands
// separators, close figures printed side by side, METRIC lines printed by an
// exit handler. Each answer is the right number or a one-line refusal naming
// the problem; nothing of the user's is lost.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, fromTemplate, git, initValue, iterate, ledger, makeRepo, setValue, SHELL_COMMAND, shellBaselineRepo, shellValueRepo, valueRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

// Many real engine calls in one test: a guard against a hang, not a speed limit (the machine may be loaded).
const HANG_GUARD = { timeout: 600_000 };

const expDir = (repo: string, slug = 'exp') => path.join(repo, '.autoloop', 'experiments', slug);
// Where samples run, the shell version of valueRepo's benchmark (shellValueRepo, shellBaselineRepo):
// the same numbers with no Node start per sample, the subject here being the engine's answer to
// awkward input. valueRepo's own (node bench.cjs) stays where no sample runs.
const oneLine = (stderr: string) => {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
};

describe('a single-valued flag given twice', HANG_GUARD, () => {
  it('is refused in one line naming the flag, by every entry point, before anything is done', () => {
    const repo = valueRepo();
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--metric', 'mem', '--direction', 'lower', '--command', 'node bench.cjs'], repo);
    expect(init.code).toBe(2);
    oneLine(init.stderr);
    expect(init.stderr).toContain('--metric given twice ("score", then "mem")');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'exp'))).toBe(false);

    const done = shellBaselineRepo();
    setValue(done, '90');
    expect(engine('run-experiment', ['--json'], done).code).toBe(0);
    const before = fs.readFileSync(path.join(expDir(done), 'ledger.jsonl'));
    for (const [cmd, args] of [
      ['log-experiment', ['--description', 'x', '--description', 'y']],
      ['run-experiment', ['--description', 'x', '--description', 'y']],
      ['status', ['--experiment', 'exp', '--experiment', 'other']],
      ['dashboard', ['--width', '80', '--width', '100']],
      ['report', ['--experiment', 'exp', '--experiment', 'exp']],
    ] as const) {
      const r = engine(cmd, [...args], done);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(2);
      oneLine(r.stderr);
      expect(r.stderr).toMatch(new RegExp(`^${cmd}: ${args[0]} given twice`));
    }
    expect(fs.readFileSync(path.join(expDir(done), 'ledger.jsonl'))).toEqual(before);
    // The measured change is still there to log, once.
    const log = engine('log-experiment', ['--description', 'better', '--json'], done);
    expect(log.json?.verdict).toBe('keep');
  });

  it('repeatable flags still take every value, and a boolean twice is the same boolean', () => {
    const repo = valueRepo('100', { 'lib/x.txt': 'x\n' });
    const r = initValue(repo, ['--scope', 'lib/**', '--guardrail', 'mem:lower:10', '--guardrail', 'score:lower:50', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.scope).toEqual(['src/**', 'lib/**']);
    const status = engine('status', ['--json'], repo);
    expect(status.code, status.stderr).toBe(0);
  });
});

describe('dashboard --html', HANG_GUARD, () => {
  it('refuses a page in a folder that does not exist, naming it, and creates nothing', () => {
    const repo = shellBaselineRepo();
    const out = tmpDir('autoloop-html-');
    const missing = path.join(out, 'no', 'such');
    const r = engine('dashboard', ['--html', path.join(missing, 'page.html')], repo);
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toContain(`--html: no such directory: ${missing}`);
    expect(fs.existsSync(path.join(out, 'no'))).toBe(false);

    const dir = engine('dashboard', ['--html', out], repo);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain('is a directory');

    const page = path.join(out, 'page.html');
    const ok = engine('dashboard', ['--html', page], repo);
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.readFileSync(page, 'utf8').startsWith('<!doctype html>')).toBe(true);
  });
});

describe('a ledger without its config line', HANG_GUARD, () => {
  it('status, report and the dashboard say so in one line, never "segment 0"', () => {
    const repo = shellBaselineRepo();
    const file = path.join(expDir(repo), 'ledger.jsonl');
    // A foreign or damaged ledger: its runs, but not the line that opens their segment.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^[^\n]*\n/, ''));
    for (const [cmd, args] of [['status', []], ['status', ['--json']], ['report', []], ['dashboard', []], ['dashboard', ['--json']]] as const) {
      const r = engine(cmd, [...args], repo);
      expect(r.code, `${cmd} ${args.join(' ')}: ${r.stdout}`).toBe(2);
      oneLine(r.stderr);
      expect(r.stderr).toMatch(/ledger\.jsonl holds no config line/);
      expect(r.stdout).not.toMatch(/segment"?:? 0/);
    }
    // What SessionStart gives the model (active.json, rewritten by a control call) says it too.
    expect(engine('control', ['stop'], repo).code).toBe(0);
    const active = JSON.parse(fs.readFileSync(path.join(repo, '.autoloop', 'active.json'), 'utf8')) as { summary: string };
    expect(active.summary).toBe('autoloop experiment "exp": .autoloop/experiments/exp/ledger.jsonl holds no config line (it is empty or its first line is damaged): restore it, or run init-experiment to open a new segment');
  });
});

describe('a damaged workspace.json', HANG_GUARD, () => {
  /**
   * An experiment started with the user's untracked file in scope and an edit outside it, one keep made.
   * Built once for the three damages (fromTemplate), each test a copy: nothing in it names its own path
   * (no best worktree: the benchmark is deterministic).
   */
  const started = (): string => fromTemplate('damaged workspace.json', () => {
    const repo = shellValueRepo();
    fs.writeFileSync(path.join(repo, 'src', 'mine.txt'), 'my notes\n');
    fs.mkdirSync(path.join(repo, 'src', 'my-data'));
    fs.writeFileSync(path.join(repo, 'src', 'my-data', 'a.csv'), '1,2\n');
    fs.appendFileSync(path.join(repo, 'README.md'), 'my edit\n');
    expect(initValue(repo, SHELL_COMMAND).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json?.verdict).toBe('keep');
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json?.verdict).toBe('keep');
    return repo;
  });

  for (const [what, damage] of [
    ['cut short', (text: string) => text.slice(0, text.indexOf('"user_dirs"') - 20)],
    ['garbled', (text: string) => text.replace('"user_files"', '"user_files": 7, "x"')],
    ['emptied', () => ''],
  ] as const) {
    it(`${what}: control repair rebuilds it, the user's files stay the user's, and the loop goes on`, () => {
      const repo = started();
      const file = path.join(expDir(repo), 'workspace.json');
      const intact = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      const damaged = damage(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, damaged);

      const status = engine('status', [], repo);
      expect(status.code).toBe(1);
      oneLine(status.stderr);
      expect(status.stderr).toContain('workspace.json is damaged: run control repair');

      const repair = engine('control', ['repair'], repo);
      expect(repair.code, repair.stderr).toBe(0);
      expect(repair.stdout).toMatch(/rebuilt workspace\.json \(\d+ untracked path\(s\) recorded as yours/);
      const rebuilt = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      for (const k of ['mode', 'branch', 'started_from', 'base', 'user_files', 'user_dirs']) expect(rebuilt[k], k).toEqual(intact[k]);
      expect(Object.keys(rebuilt.dirty as object).sort()).toEqual(Object.keys(intact.dirty as object).sort());
      // The damaged bytes are kept beside it.
      const copies = fs.readdirSync(expDir(repo)).filter((n) => n.startsWith('workspace.json.damaged-'));
      expect(copies.map((n) => fs.readFileSync(path.join(expDir(repo), n), 'utf8'))).toEqual([damaged]);

      // A discard reverts the scope: the user's files in it are not the change.
      setValue(repo, '95');
      expect(iterate(repo, 'worse').log.json?.verdict).toBe('discard');
      setValue(repo, '80');
      expect(iterate(repo, 'better still').log.json?.verdict).toBe('keep');
      expect(fs.readFileSync(path.join(repo, 'src', 'mine.txt'), 'utf8')).toBe('my notes\n');
      expect(fs.readFileSync(path.join(repo, 'src', 'my-data', 'a.csv'), 'utf8')).toBe('1,2\n');
      expect(fs.readFileSync(path.join(repo, 'README.md'), 'utf8')).toBe('fixture\nmy edit\n');
      expect(git(repo, 'ls-files', 'src')).toBe('src/other.txt\nsrc/value.txt');
    });
  }
});

describe('a damaged workspace.json in snapshot mode (no git)', HANG_GUARD, () => {
  it('control repair rebuilds it from the ledger: the best, every keep; reverts and keeps go on', () => {
    const repo = shellValueRepo('100', { git: false });
    expect(initValue(repo, SHELL_COMMAND).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json?.verdict).toBe('keep');
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json?.verdict).toBe('keep');
    const file = path.join(expDir(repo), 'workspace.json');
    const intact = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 60));

    expect(engine('status', [], repo).stderr).toContain('workspace.json is damaged: run control repair');
    const repair = engine('control', ['repair'], repo);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stdout).toContain('rebuilt workspace.json (best snapshot');
    const rebuilt = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const k of ['mode', 'current', 'base']) expect(rebuilt[k], k).toEqual(intact[k]);
    // Each keep's snapshot, as the ledger recorded it (its time is the ledger's).
    const ids = (keeps: unknown) => (keeps as Array<{ run: string; id: string }>).map(({ run, id }) => ({ run, id }));
    expect(ids(rebuilt.keeps)).toEqual(expect.arrayContaining(ids(intact.keeps)));

    setValue(repo, '95');
    expect(iterate(repo, 'worse').log.json?.verdict).toBe('discard');
    expect(fs.readFileSync(path.join(repo, 'src', 'value.txt'), 'utf8')).toBe('90');
    setValue(repo, '80');
    expect(iterate(repo, 'better still').log.json?.verdict).toBe('keep');
  });
});

describe('a regex metric source and thousands separators', HANG_GUARD, () => {
  // A shell benchmark (shell builtins only): the regex source is under test, and a Node one costs a Node start.
  const BENCH = 'read n < src/n.txt; echo "processed ops: $n in total"\n';
  function measure(pattern: string, printed: string): Record<string, unknown> {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/n.txt': printed });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'ops', '--direction', 'higher', '--command', 'sh bench.sh', '--scope', 'src/**', '--source', `regex:ops=${pattern}`, '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    const r = engine('run-experiment', ['--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    // The run's record, not the model's rounded --json: every digit read.
    return JSON.parse(fs.readFileSync(path.join(expDir(repo), 'runs', 'r0001', 'result.json'), 'utf8')) as Record<string, unknown>;
  }

  it('a capture that stops at a separator fails the sample with the reason, never reads 1,234,567 as 1', () => {
    const r = measure('ops: ([0-9]+)', '1,234,567');
    expect(r.status).toBe('invalid');
    expect(r.primary ?? null).toBeNull();
    expect(String(r.reason)).toContain('the capture read "1" of the number "1,234,567" (it stops at a thousands separator)');
  });

  it('a capture that takes the separators reads the whole number; plain numbers are unchanged', () => {
    expect(measure('ops: ([0-9][0-9,.]*)', '1,234,567.5').primary).toBe(1234567.5);
    expect(measure('ops: ([0-9]+)', '1234567').primary).toBe(1234567);
    // The pattern itself takes the comma: comma-separated fields, read as the pattern says.
    expect(measure('ops: ([0-9]+),', '12,345').primary).toBe(12);
  });
});

describe('close figures side by side', HANG_GUARD, () => {
  it('status, report, the dashboard and the log line print enough digits to tell best from baseline', () => {
    const repo = shellBaselineRepo('1.00014');
    setValue(repo, '1.00012');
    const { run, log } = iterate(repo, 'a hair better');
    expect(run.code, run.stderr).toBe(0);
    expect(log.json?.verdict).toBe('keep');
    expect(ledger(repo).filter((l) => l.type === 'result').map((l) => l.primary)).toEqual([1.00014, 1.00012]);
    expect(engine('status', [], repo).stdout).toContain('best 1.00012 vs baseline 1.00014');
    expect(engine('report', [], repo).stdout).toContain('baseline 1.00014 → best 1.00012');
    const dash = engine('dashboard', ['--width', '120'], repo).stdout;
    expect(dash).toContain('1.00012');
    expect(dash).toContain('vs baseline 1.00014');
    // Figures that fmt tells apart keep its short form: no line grows for nothing.
    const plain = shellBaselineRepo('100');
    setValue(plain, '90.5');
    iterate(plain, 'better');
    expect(engine('status', [], plain).stdout).toContain('best 90.5 vs baseline 100');
  });

  it('the iteration line of the run and log calls too', () => {
    const repo = shellBaselineRepo('1.00014');
    setValue(repo, '1.00012');
    const r = engine('run-experiment', ['--description', 'a hair better'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('score=1.00012 → KEEP');
    expect(r.stdout).toContain('best 1.00012 vs baseline 1.00014');
  });
});

describe('close figures in what the model reads (--json)', HANG_GUARD, () => {
  it('a run\'s value, the best and the baseline keep the digits that separate them, and every integer digit', () => {
    const repo = shellBaselineRepo('1.000014');
    setValue(repo, '1.000012');
    const { run, log } = iterate(repo, 'a hair better');
    expect(run.json).toMatchObject({ primary: 1.000012, best: 1.000014 });
    expect(log.json).toMatchObject({ verdict: 'keep', best: 1.000012, baseline: 1.000014 });

    const big = shellBaselineRepo('1234567.25');
    setValue(big, '1234574.75');
    const worse = iterate(big, 'worse');
    // 6 significant digits read both as 1234570.
    expect(worse.run.json).toMatchObject({ primary: 1234575, best: 1234567 });
    expect(worse.log.json?.verdict).toBe('discard');
  });
});

describe('METRIC lines printed by an exit handler', HANG_GUARD, () => {
  const NODE = "const v = require('node:fs').readFileSync('src/value.txt', 'utf8').trim();\nprocess.on('exit', () => console.log('METRIC score=' + v));\nprocess.exit(0);\n";
  const PY = "import atexit, sys\nv = open('src/value.txt').read().strip()\natexit.register(lambda: print('METRIC score=' + v))\nsys.exit(0)\n";
  const FIFO = 'f="$(mktemp -u)"; mkfifo "$f"; node bench.cjs > "$f" & cat "$f"; wait; rm -f "$f"\n';
  const python = fs.existsSync('/usr/bin/python3');
  const commands = ['node bench.cjs', 'node bench.cjs | cat', 'sh fifo.sh', ...(python ? ['python3 bench.py', 'python3 bench.py | cat'] : [])];

  it.each(commands)('are read from every sample: %s', (command) => {
    const repo = makeRepo({ 'bench.cjs': NODE, 'bench.py': PY, 'fifo.sh': FIFO, 'src/value.txt': '42' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', command, '--scope', 'src/**', '--repeats', '5'], repo);
    expect(init.code, init.stderr).toBe(0);
    const r = engine('run-experiment', ['--json'], repo);
    expect(r.json?.status, r.stdout).toBe('ok');
    expect(r.json?.primary).toBe(42);
    expect(r.json?.samples).toBe(5);
  });
});
