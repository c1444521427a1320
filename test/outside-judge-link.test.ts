// A judge that is a symbolic link out of the repository (bench.py -> ../shared/bench.py):
// the file it leads to and the files beside it (what Python imports from the target's
// folder) judge the metric as much as the link. Real engine, real git, real python3; the
// PreToolUse hook's own code on the active.json the engine wrote.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engine, git } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { analyzeBash } from '../hooks/src/bash-guard.ts';
import { preToolUseDecision } from '../hooks/src/pre-tool-use.ts';
import { PreToolUseInput } from '../hooks/src/schema.ts';
import { files, readActive, readSession } from '../hooks/src/state.ts';

const HANG_GUARD = { timeout: 600_000 };

const BENCH = `import helper
v = float(open('src/v').read())
print(f"METRIC v={v * helper.k()}")
`;

/** A repository whose judge bench.py links to shared/bench.py beside it (outside), which imports shared/helper.py. */
function linkedJudge(helper = 'def k(): return 1.0\n', bench = BENCH, more: Record<string, string> = {}): { repo: string; shared: string } {
  const top = fs.realpathSync(tmpDir('autoloop-outside-'));
  const shared = path.join(top, 'shared');
  const repo = path.join(top, 'repo');
  fs.mkdirSync(shared);
  fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
  fs.writeFileSync(path.join(shared, 'bench.py'), bench);
  fs.writeFileSync(path.join(shared, 'helper.py'), helper);
  for (const [rel, text] of Object.entries(more)) {
    fs.mkdirSync(path.dirname(path.join(shared, rel)), { recursive: true });
    fs.writeFileSync(path.join(shared, rel), text);
  }
  fs.writeFileSync(path.join(repo, 'src/v'), '100\n');
  fs.symlinkSync('../shared/bench.py', path.join(repo, 'bench.py'));
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'initial');
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'v', '--direction', 'lower', '--command', 'python3 bench.py', '--scope', 'src/**'], repo);
  expect(init.code, init.stderr).toBe(0);
  const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo);
  expect(base.json, base.stdout + base.stderr).toMatchObject({ verdict: 'keep' });
  return { repo, shared };
}

/** The PreToolUse hook's decision (its own code, on the active.json the engine wrote) for the owner's call in `repo`. */
function decideTool(repo: string, tool: string, toolInput: Record<string, unknown>, cwd = repo) {
  const input = PreToolUseInput.parse({
    session_id: 'sess-a',
    transcript_path: path.join(repo, 't.jsonl'),
    cwd,
    permission_mode: 'default',
    hook_event_name: 'PreToolUse',
    tool_name: tool,
    tool_input: toolInput,
    tool_use_id: 'toolu_01',
  });
  const f = files(repo);
  const env = { CLAUDE_PROJECT_DIR: repo, CLAUDE_PLUGIN_ROOT: path.resolve(import.meta.dirname, '..'), HOME: repo };
  return preToolUseDecision(input, readActive(f)!, readSession(f), repo, env, analyzeBash);
}

describe('a judge linked out of the repository', () => {
  it('an edit of a file beside its target makes the run invalid, until it is put back', HANG_GUARD, () => {
    const { repo, shared } = linkedJudge();
    fs.writeFileSync(path.join(shared, 'helper.py'), 'def k(): return 0.1\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '90\n');
    const run = engine('run-experiment', ['--description', 'x', '--json'], repo);
    // Was: KEEP at +91%, the helper beside the target scoring a tenth.
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(run.json?.reason)).toContain(`bench.py changed since the segment opened: it links to ${path.join(shared, 'bench.py')}, outside the repository`);
    fs.writeFileSync(path.join(shared, 'helper.py'), 'def k(): return 1.0\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '90\n'); // the invalid run's change was reverted
    expect(engine('run-experiment', ['--description', 'y', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 90 });
  });

  it("an edit of its target makes the run invalid, and the engine leaves the user's link and file as they are", HANG_GUARD, () => {
    const { repo, shared } = linkedJudge();
    const forged = BENCH.replace('helper.k()', 'helper.k() * 0.5');
    fs.writeFileSync(path.join(shared, 'bench.py'), forged);
    fs.writeFileSync(path.join(repo, 'src/v'), '90\n');
    const run = engine('run-experiment', ['--description', 'x', '--json'], repo);
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'invalid' });
    // Was: the link replaced by a regular file holding the saved bytes (a change to a tracked file of the user's).
    expect(fs.lstatSync(path.join(repo, 'bench.py')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(shared, 'bench.py'), 'utf8')).toBe(forged);
    expect(git(repo, 'status', '--porcelain', '--', 'bench.py')).toBe('');
  });

  it("re-measures the best with the judge a relative link out of the repository leads to", HANG_GUARD, () => {
    // Noisy, so that the best is measured beside the candidate, from its own tree.
    const { repo } = linkedJudge('import random\ndef k(): return 1 + 0.02 * random.random()\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '50\n');
    const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
    // Was: CRASH, "re-measuring the best failed": the best's tree's bench.py -> ../shared/bench.py led nowhere.
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
  });

  it('the PreToolUse hook denies an Edit or Write of its target and of the files beside it, by absolute path and through ..', HANG_GUARD, () => {
    const { repo, shared } = linkedJudge();
    const decide = (file: string, tool = 'Edit') =>
      decideTool(repo, tool, tool === 'Write' ? { file_path: file, content: 'x' } : { file_path: file, old_string: 'a', new_string: 'b' });
    for (const [file, tool] of [
      [path.join(shared, 'bench.py'), 'Edit'],
      [path.join(shared, 'helper.py'), 'Write'],
      [`${repo}/../shared/bench.py`, 'Edit'],
      [`${repo}/src/../../shared/helper.py`, 'Edit'],
      [path.join(shared, 'new_module.py'), 'Write'],
    ] as const) {
      const d = decide(file, tool);
      // Was: no decision (a path outside the project), so the edit went ahead.
      expect([file, d.decision]).toEqual([file, 'deny']);
      expect(d.reason).toMatch(/^autoloop: \S+ is where the judge bench\.py links to, outside the project, or beside it \(a file it can load\): it judges the metric/);
      expect(d.reason).not.toContain('\n');
    }
    // Elsewhere outside the project: not the judge's.
    expect(decide(path.join(path.dirname(shared), 'notes.txt'), 'Write').decision).not.toBe('deny');
  });
});

describe('a judge linked out of the repository, across an update of the engine', () => {
  it("a segment an older engine opened (its target's bytes alone) keeps running; one opened now still catches a judge swapped for a link", HANG_GUARD, () => {
    const { repo, shared } = linkedJudge();
    // What the engine before this one wrote: no digests form, the link's digest its target's bytes.
    const ledgerPath = path.join(repo, '.autoloop/experiments/exp/ledger.jsonl');
    const lines = fs.readFileSync(ledgerPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; fingerprints?: { files: Record<string, string>; digests?: number } });
    const cfg = lines.find((l) => l.type === 'config');
    expect(cfg?.fingerprints?.digests).toBe(2);
    cfg!.fingerprints!.files['bench.py'] = createHash('sha256').update(fs.readFileSync(path.join(shared, 'bench.py'))).digest('hex');
    delete cfg!.fingerprints!.digests;
    fs.writeFileSync(ledgerPath, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    fs.rmSync(path.join(repo, '.autoloop/experiments/exp/state.json'), { force: true });
    fs.writeFileSync(path.join(repo, 'src/v'), '90\n');
    // Was: INVALID, "bench.py changed since the segment opened", on every run after the update.
    expect(engine('run-experiment', ['--description', 'x', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 90 });

    // A segment opened now: an in-repo judge swapped for a link to the same bytes, a forged helper beside them.
    const top = fs.realpathSync(tmpDir('autoloop-outside-'));
    const own = path.join(top, 'repo');
    fs.mkdirSync(path.join(own, 'src'), { recursive: true });
    fs.writeFileSync(path.join(own, 'bench.py'), BENCH);
    fs.writeFileSync(path.join(own, 'helper.py'), 'def k(): return 1.0\n');
    fs.writeFileSync(path.join(own, 'src/v'), '100\n');
    git(own, 'init', '-q', '-b', 'main');
    git(own, 'add', '-A');
    git(own, 'commit', '-qm', 'initial');
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'v', '--direction', 'lower', '--command', 'python3 bench.py', '--scope', 'src/**'], own).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], own).json).toMatchObject({ verdict: 'keep' });
    const elsewhere = path.join(top, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'bench.py'), BENCH);
    fs.writeFileSync(path.join(elsewhere, 'helper.py'), 'def k(): return 0.1\n');
    fs.rmSync(path.join(own, 'bench.py'));
    fs.symlinkSync(path.join(elsewhere, 'bench.py'), path.join(own, 'bench.py'));
    fs.writeFileSync(path.join(own, 'src/v'), '99\n');
    expect(engine('run-experiment', ['--description', 'swap', '--json'], own).json).toMatchObject({ verdict: 'invalid' });
  });
});

describe('a judge linked out of the repository, written by a Bash command', () => {
  it('the Bash guard denies a command that writes its target, a file beside it or its folder, as it denies one writing an in-repo judge', HANG_GUARD, () => {
    const { repo, shared } = linkedJudge();
    const top = path.dirname(shared);
    const bash = (command: string, cwd = repo) => decideTool(repo, 'Bash', { command, description: 'x' }, cwd);
    // A module beside the target that is itself a link elsewhere: writing through it, or replacing it, changes what the judge loads.
    fs.writeFileSync(path.join(top, 'data-source.py'), 'D = 1\n');
    fs.symlinkSync('../data-source.py', path.join(shared, 'data.py'));
    const denied = [
      `echo x > ${shared}/helper.py`,
      'echo x >> ../shared/bench.py',
      `cp src/v ${shared}/bench.py`,
      'cp src/v ../shared/',
      `mv ${shared}/helper.py ${top}/old.py`,
      'mv src/v ../shared/helper.py',
      `sed -i s/1.0/0.1/ ${shared}/helper.py`,
      "sed -i.bak 's/1.0/0.1/' ../shared/helper.py",
      `printf 'def k(): return 0.1\\n' | tee ${shared}/helper.py`,
      'tee -a ../shared/helper.py < src/v',
      `rm ${shared}/helper.py`,
      'rm -f src/../../shared/bench.py',
      'rm -rf ../shared',
      `mv ${shared} ${top}/elsewhere`,
      `ln -sf /dev/null ${shared}/helper.py`,
      'ln -s ../shared src/lib',
      'cd ../shared && echo x > helper.py',
      'cd src && echo x > ../../shared/new_module.py',
      `touch ${shared}/new_module.py`,
      `rm ${shared}/*.py`,
      'rm ../sh*/helper.py',
      `rm -r ${top}/sha*`,
      `tar xf src/v.tar -C ${shared}`,
      `dd if=src/v of=${shared}/helper.py`,
      `echo 'D = 0' > ${shared}/data.py`,
      'rm ../shared/data.py',
    ];
    const decisions = denied.map((command) => [command, bash(command)] as const);
    // Was: no decision for any (every path outside the project but git's configuration went through).
    expect(decisions.map(([c, d]) => [c, d.decision])).toEqual(denied.map((c) => [c, 'deny']));
    for (const [command, d] of decisions) {
      expect([command, d.reason]).toEqual([command, expect.stringMatching(/^autoloop: \S+ is where the judge bench\.py links to, outside the project, or beside it \(a file it can load\): it judges the metric/)]);
      expect(d.reason).not.toContain('\n');
    }
    // From a cwd outside the project too.
    expect(bash('echo x > helper.py', shared).decision).toBe('deny');
    // Elsewhere outside the project, and reads of the judge's files: not denied.
    for (const command of [`echo x > ${top}/notes.txt`, `cp ${shared}/helper.py ${top}/copy.py`, `mkdir -p ${top}/other && echo x > ${top}/other/y.py`]) {
      expect([command, bash(command).decision]).not.toEqual([command, 'deny']);
    }
  });
});

describe('judges named by a --protect glob through a link to a folder outside the repository', () => {
  it('the files there are judges: an edit of one makes the run invalid, and the hook denies an Edit or a Bash write of it', HANG_GUARD, () => {
    // bench/lib -> ../../vendor (outside), protected by --protect 'bench/**'; the benchmark itself is a plain file.
    const top = fs.realpathSync(tmpDir('autoloop-outside-glob-'));
    const vendor = path.join(top, 'vendor');
    const repo = path.join(top, 'repo');
    fs.mkdirSync(path.join(vendor, 'sub'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'bench'));
    fs.writeFileSync(path.join(vendor, 'weights.txt'), '1.0\n');
    fs.writeFileSync(path.join(vendor, 'sub', 'scale.txt'), '1.0\n');
    fs.writeFileSync(path.join(repo, 'bench.py'), "v = float(open('src/v').read())\nw = float(open('bench/lib/weights.txt').read())\nprint(f\"METRIC v={v * w}\")\n");
    fs.writeFileSync(path.join(repo, 'src/v'), '100\n');
    fs.symlinkSync('../../vendor', path.join(repo, 'bench/lib'));
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'initial');
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'v', '--direction', 'lower', '--command', 'python3 bench.py', '--scope', 'src/**', '--protect', 'bench/**', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    // Was: bench.py alone (the walk of bench/** never went through the link).
    expect(init.json?.protect).toEqual(['bench.py', 'bench/lib/sub/scale.txt', 'bench/lib/weights.txt']);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const bash = (command: string) => decideTool(repo, 'Bash', { command, description: 'x' });
    for (const file of [path.join(vendor, 'weights.txt'), path.join(vendor, 'sub', 'scale.txt')]) {
      expect([file, decideTool(repo, 'Edit', { file_path: file, old_string: '1', new_string: '0' }).decision]).toEqual([file, 'deny']);
    }
    expect(bash("echo 0.5 > ../vendor/weights.txt").reason).toMatch(/^autoloop: \S+weights\.txt is where the judge bench\/lib\/weights\.txt links to/);
    expect(bash('rm -r ../vendor/sub').decision).toBe('deny');
    fs.writeFileSync(path.join(vendor, 'weights.txt'), '0.5\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '99\n');
    const run = engine('run-experiment', ['--description', 'x', '--json'], repo);
    // Was: KEEP at -50%, the weights outside scoring half.
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'invalid' });
    // And the engine wrote nothing there (was: the saved bytes written back through bench/lib, outside the repository).
    expect(fs.readFileSync(path.join(vendor, 'weights.txt'), 'utf8')).toBe('0.5\n');
    expect(String(run.json?.reason)).toContain(`it links to ${path.join(vendor, 'weights.txt')}, outside the repository`);
    fs.writeFileSync(path.join(vendor, 'weights.txt'), '1.0\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '99\n');
    expect(engine('run-experiment', ['--description', 'y', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 99 });
  });
});

describe('a judge linked out of the repository that imports from a folder below its target', () => {
  it('the modules it imports there are judged as those beside it, and the hook denies writing them', HANG_GUARD, () => {
    // shared/bench.py does `from lib import util`: shared/lib/util.py, which judge-reach.ts follows for a judge in the repository.
    const bench = BENCH.replace('import helper', 'import helper\nfrom lib import util').replace('helper.k()', 'helper.k() * util.s()');
    const { repo, shared } = linkedJudge(undefined, bench, { 'lib/__init__.py': '', 'lib/util.py': 'def s(): return 1.0\n', 'docs/notes.txt': 'x\n' });
    const bash = (command: string) => decideTool(repo, 'Bash', { command, description: 'x' });
    const util = path.join(shared, 'lib', 'util.py');
    expect(decideTool(repo, 'Edit', { file_path: util, old_string: '1', new_string: '0' }).decision).toBe('deny');
    for (const command of ['echo x > ../shared/lib/util.py', `sed -i s/1.0/0.1/ ${util}`, 'rm -r ../shared/lib', `mv ${shared}/lib ${shared}/old`]) {
      const d = bash(command);
      // Was: no decision (only the files directly beside the target were the judge's).
      expect([command, d.decision]).toEqual([command, 'deny']);
      expect(d.reason).toMatch(/^autoloop: \S+ is where the judge bench\.py links to/);
    }
    // A folder below that it does not import from is not the judge's.
    expect(bash(`echo y > ${shared}/docs/notes.txt`).decision).not.toBe('deny');
    fs.writeFileSync(util, 'def s(): return 0.1\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '90\n');
    const run = engine('run-experiment', ['--description', 'x', '--json'], repo);
    // Was: KEEP at +91%, the module below the target scoring a tenth.
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'invalid' });
  });
});
