// Issue 11 §5: a file the user creates in the scope while the loop runs is
// never committed and never lost. The owner's hooks (run as Claude Code runs
// them: `sh hooks/run.sh pre-tool-use`, the built dist/ of this checkout)
// journal what the model writes; the engine (bundled) moves the user's new
// files aside before measuring and leaves those that appear later alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { engine, engineAsync, git, initValue, iterate, ledger, ROOT, setValue, SHELL_COMMAND, shellBaselineRepo, shellValueRepo, valueRepo, waitFor } from './helpers/engine.ts';
import { byModel, parseJournal } from '../scripts/lib/journal.ts';

// Where the benchmark only prints a value, the shell version of valueRepo's (shellValueRepo,
// shellBaselineRepo): no Node start per sample. A run the user writes during keeps its own Node benchmark.
const OWNER = 'sess-owner';
const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const journal = (repo: string) => read(repo, '.autoloop/journal');

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
});

/** The session that drives the loop, as the hooks record it. */
function own(repo: string): void {
  const s = { owner_session: OWNER, owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 1, chain_nudged: null, candidate: null, past_end: null };
  fs.writeFileSync(path.join(repo, '.autoloop', 'session.json'), `${JSON.stringify(s, null, 2)}\n`);
}

/** The owner's PreToolUse for a tool call, through the real shim. */
function pre(repo: string, tool_name: string, tool_input: Record<string, unknown>): string {
  const payload = { session_id: OWNER, cwd: repo, hook_event_name: 'PreToolUse', tool_name, tool_input, tool_use_id: 'toolu_01' };
  const r = spawnSync('/bin/sh', [path.join(ROOT, 'hooks', 'run.sh'), 'pre-tool-use'], {
    input: JSON.stringify(payload),
    cwd: repo,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: repo, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: repo, CLAUDE_CODE_SESSION_ID: OWNER },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** The model writes a file with the Write tool: hook first, then the write. */
function modelWrites(repo: string, rel: string, text: string): void {
  pre(repo, 'Write', { file_path: path.join(repo, rel), content: text });
  fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  fs.writeFileSync(path.join(repo, rel), text);
}

/** The model runs a Bash command: hook first, then the command (sh, in the repository). */
function modelRuns(repo: string, command: string): void {
  pre(repo, 'Bash', { command, description: 'run it' });
  const r = spawnSync('/bin/sh', ['-c', command], { cwd: repo, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

const committed = (repo: string) => git(repo, 'show', '--name-only', '--format=', 'HEAD').split('\n').filter(Boolean).sort();
const oneCall = (repo: string, description: string) => engine('run-experiment', ['--description', description, '--json'], repo);

describe("the user's new in-scope files, with the owner's journal", () => {
  it('keep commits the model change only; the user file is moved aside with its content, said in one line', () => {
    const repo = shellBaselineRepo();
    own(repo);
    modelWrites(repo, 'src/value.txt', '90');
    modelWrites(repo, 'src/helper.txt', 'the model made this\n');
    fs.writeFileSync(path.join(repo, 'src', 'notes-of-the-user.md'), 'my notes\n');
    expect(journal(repo)).toMatch(/^W src\/helper\.txt$/m);
    const r = oneCall(repo, 'better');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/helper.txt', 'src/value.txt']);
    expect(fs.existsSync(path.join(repo, 'src', 'notes-of-the-user.md'))).toBe(false);
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0002/src/notes-of-the-user.md.autoloop-copy')).toBe('my notes\n');
    const warnings = (r.json?.warnings ?? []) as string[];
    expect(warnings.filter((w) => w.includes('rescued/r0002') && w.includes('src/notes-of-the-user.md'))).toHaveLength(1);
    expect(ledger(repo).filter((l) => l.event === 'user_files')).toMatchObject([{ run_id: 'r0002', data: { files: ['src/notes-of-the-user.md'] } }]);
    // The run is logged: the journal starts again empty.
    expect(journal(repo)).toBe('');
  });

  it('a file the model makes with a Bash redirect is committed', () => {
    const repo = shellBaselineRepo();
    own(repo);
    modelWrites(repo, 'src/value.txt', '90');
    modelRuns(repo, 'echo generated > src/gen.txt');
    expect(journal(repo)).toMatch(/^E \d+$/m);
    expect(journal(repo)).toMatch(/^W src\/gen\.txt$/m);
    expect(oneCall(repo, 'better').json).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/gen.txt', 'src/value.txt']);
  });

  it("a file a script of the model's makes (a Bash window) is committed; one the user makes after the window is not", async () => {
    const repo = shellBaselineRepo();
    own(repo);
    fs.writeFileSync(path.join(repo, 'gen.cjs'), "require('node:fs').writeFileSync('src/table.txt', '1 2 3\\n');\n");
    modelWrites(repo, 'src/value.txt', '90');
    modelRuns(repo, 'node gen.cjs');
    expect(journal(repo)).toMatch(/^B \d+ \d+$/m);
    // The model's next call the Node hook answers ends the window; the user's file comes after it.
    // (A plain `cat`, also after a leading `cd`, is answered in the shell, which has no clock and
    // ends no window; a glob operand is Node's.)
    modelRuns(repo, 'cat src/*.txt');
    expect(journal(repo)).toMatch(/^E \d+$/m);
    await new Promise((r) => setTimeout(r, 50));
    fs.writeFileSync(path.join(repo, 'src', 'user.txt'), 'mine\n');
    expect(oneCall(repo, 'better').json).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/table.txt', 'src/value.txt']);
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0002/src/user.txt.autoloop-copy')).toBe('mine\n');
  });

  it('a file the user makes between run and log is neither committed nor deleted on keep (it goes aside at the next run)', () => {
    const repo = shellBaselineRepo();
    own(repo);
    modelWrites(repo, 'src/value.txt', '90');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    fs.writeFileSync(path.join(repo, 'src', 'late.md'), 'written after the measurement\n');
    const log = engine('log-experiment', ['--description', 'better', '--json'], repo);
    expect(log.json, log.stdout).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/value.txt']);
    expect(read(repo, 'src/late.md')).toBe('written after the measurement\n');
    // The next run measures without it, and keeps it.
    modelWrites(repo, 'src/value.txt', '80');
    expect(oneCall(repo, 'better again').json).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/value.txt']);
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0003/src/late.md.autoloop-copy')).toBe('written after the measurement\n');
  });

  it('a file the user makes during a run is neither committed nor deleted on keep', async () => {
    // The benchmark waits for the test's go, so the user's file surely lands mid-run.
    const bench = `const fs = require('node:fs');
fs.writeFileSync('.started', '');
const wait = () => fs.existsSync('.go') ? console.log('METRIC score=' + Number(fs.readFileSync('src/value.txt', 'utf8'))) : setTimeout(wait, 20);
wait();
`;
    const repo = valueRepo('100', { 'bench.cjs': bench, '.gitignore': '.started\n.go\n' });
    expect(initValue(repo).code).toBe(0);
    fs.writeFileSync(path.join(repo, '.go'), '');
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    own(repo);
    fs.rmSync(path.join(repo, '.started'));
    fs.rmSync(path.join(repo, '.go'));
    modelWrites(repo, 'src/value.txt', '90');
    const run = engineAsync('run-experiment', ['--description', 'better', '--json'], repo);
    let out = '';
    run.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => run.on('exit', r));
    await waitFor(() => fs.existsSync(path.join(repo, '.started')));
    fs.writeFileSync(path.join(repo, 'src', 'during.md'), 'made while it ran\n');
    fs.writeFileSync(path.join(repo, '.go'), '');
    await exited;
    expect(JSON.parse(out)).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/value.txt']);
    expect(read(repo, 'src/during.md')).toBe('made while it ran\n');
  });
});

describe('snapshot mode (no git)', () => {
  it("the user's new file goes aside, the model's is kept", () => {
    const repo = shellValueRepo('100', { git: false });
    expect(initValue(repo, SHELL_COMMAND).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    own(repo);
    modelWrites(repo, 'src/value.txt', '90');
    modelWrites(repo, 'src/helper.txt', 'model\n');
    fs.writeFileSync(path.join(repo, 'src', 'mine.txt'), 'user\n');
    expect(oneCall(repo, 'better').json).toMatchObject({ verdict: 'keep' });
    expect(read(repo, 'src/helper.txt')).toBe('model\n');
    expect(fs.existsSync(path.join(repo, 'src', 'mine.txt'))).toBe(false);
    expect(read(repo, '.autoloop/experiments/exp/rescued/r0002/src/mine.txt.autoloop-copy')).toBe('user\n');
  });
});

describe('without a journal nothing changes', () => {
  it('an owner but no journal: a new in-scope file is part of the change, as before', () => {
    const repo = shellBaselineRepo();
    own(repo);
    setValue(repo, '90');
    fs.writeFileSync(path.join(repo, 'src', 'extra.txt'), 'new\n');
    expect(oneCall(repo, 'better').json).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/extra.txt', 'src/value.txt']);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'exp', 'rescued'))).toBe(false);
  });

  it('a journal but nobody owning the loop: the same', () => {
    const repo = shellBaselineRepo();
    fs.writeFileSync(path.join(repo, '.autoloop', 'journal'), 'W src/value.txt\n');
    setValue(repo, '90');
    fs.writeFileSync(path.join(repo, 'src', 'extra.txt'), 'new\n');
    expect(oneCall(repo, 'better').json).toMatchObject({ verdict: 'keep' });
    expect(committed(repo)).toEqual(['src/extra.txt', 'src/value.txt']);
  });
});

describe('the journal read (pure)', () => {
  it('names, directories and windows: B opens, E closes, A stays open until the engine call', () => {
    const j = parseJournal(['W src/a.txt', 'D src/gen', 'B 1000 9999', 'B 1500 1600', 'W src/b.txt', 'E 2000', 'A 5000', 'E 6000', 'junk', 'B x'].join('\n'), 9000);
    const at = (ms: number) => ({ birthMs: 0, ctimeMs: ms });
    expect(byModel(j, 'src/a.txt', at(3000))).toBe(true);
    expect(byModel(j, 'src/gen/deep/x.txt', at(3000))).toBe(true);
    expect(byModel(j, 'src/genx', at(3000))).toBe(false);
    expect(byModel(j, 'src/c.txt', at(1800))).toBe(true); // in B 1000 … E 2000 (a later B does not close it)
    expect(byModel(j, 'src/c.txt', at(3000))).toBe(false);
    expect(byModel(j, 'src/c.txt', at(8000))).toBe(true); // A 5000 … the engine call
    expect(byModel(j, 'src/c.txt', { birthMs: 1200, ctimeMs: 3000 })).toBe(true);
    // A window never outlives its Bash call's timeout.
    const t = parseJournal('B 20000 21000\nW src/a.txt\n', 30000);
    expect(byModel(t, 'src/c.txt', at(20500))).toBe(true);
    expect(byModel(t, 'src/c.txt', at(25000))).toBe(false);
  });
});
