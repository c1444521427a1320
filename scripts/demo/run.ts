// Drives the real engine through an example's scripted steps in a temporary
// git repository, printing what it says, and checks that the story happened.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareWithCopy, reportedBestArtifacts } from './artifacts.ts';
import { DEMO_ONLY, initArgs, type Example } from './spec.ts';
import { observe, storyMismatches, type ArtifactsSeen, type Observed } from './story.ts';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const cyan = paint('36');
const green = paint('32');
const red = paint('31');

/** A file of the user's that no keep or revert may touch. */
export const USER_FILE = 'MY-NOTES.txt';
const USER_TEXT = 'my own notes, not part of the experiment\n';
const GIT_ENV = { GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.invalid' };

/** The engine's bundles: AUTOLOOP_DEMO_DIST (the tests' fresh build), else dist/, else the sources through tsx. */
function engine(root: string, name: string, args: string[], cwd: string): { code: number; out: string } {
  const dist = process.env.AUTOLOOP_DEMO_DIST || path.join(root, 'dist');
  const bundle = path.join(dist, `${name}.mjs`);
  const argv = fs.existsSync(bundle)
    ? [bundle, ...args]
    : [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(root, 'scripts', `${name}.ts`), ...args];
  const r = spawnSync(process.execPath, [...argv, '--cwd', cwd], { encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}`.trimEnd() };
}

function git(cwd: string, ...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
  return { ok: r.status === 0, out: (r.status === 0 ? r.stdout : r.stderr).trim() };
}

/** Where the demo writes its lines: stdout, unless a caller (a test) takes them. */
export type Say = (line: string) => void;

function show(say: Say, out: string): void {
  for (const line of out.split('\n')) {
    const colored = /\bKEEP\b/.test(line) ? green(line) : /\b(DISCARD|CRASH|TIMEOUT|INVALID|CHECKS_FAILED|STOP)\b/.test(line) ? red(line) : line;
    say(`   ${colored}`);
  }
}

/** Copy the example (without its demo files) into a fresh git repository with one commit. */
function prepareRepo(ex: Example): string {
  const repo = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `autoloop-demo-${ex.name}-`)));
  const skip = new Set(DEMO_ONLY.map((f) => path.join(ex.dir, f)));
  fs.cpSync(ex.dir, repo, { recursive: true, filter: (src) => !skip.has(src) });
  for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-qm', ex.spec.commit]]) {
    const r = git(repo, ...args);
    if (!r.ok) throw new Error(`git ${args[0]}: ${r.out}`);
  }
  fs.writeFileSync(path.join(repo, USER_FILE), USER_TEXT);
  return repo;
}

/** The best run so far, as the engine's own verdict lines said: the last keep. */
function lastKeep(seen: readonly Observed[]): string | null {
  return seen.filter((o) => o.verdict === 'keep').at(-1)?.runId ?? null;
}

/** Log the step; when it must restore the best's artifacts, compare the tree with the best's copy before and after. */
function logStep(root: string, ex: Example, repo: string, description: string, best: string | null, watch: boolean) {
  const before = watch && best ? compareWithCopy(repo, ex.experiment, best) : null;
  const log = engine(root, 'log-experiment', ['--description', description], repo);
  if (!before || !best) return { log, artifacts: undefined };
  const after = compareWithCopy(repo, ex.experiment, best);
  const seen: ArtifactsSeen = { best, files: before.files, ranOwn: before.differing.length > 0, differingAfter: after.differing };
  return { log, artifacts: seen };
}

function showArtifacts(say: Say, a: ArtifactsSeen | undefined, ok: boolean): void {
  if (!a?.best) return;
  const before = a.ranOwn ? "this run's own" : "still the best's";
  const after = a.differingAfter.length ? `not ${a.best}'s` : `${a.best}'s (the best) again`;
  say(`   ${ok ? green('✔') : red('✘')} ${a.files.join(', ') || 'no artifacts kept'}: ${before} before the verdict, ${after} after it`);
}

/** Each step: apply its patch, run, log. Stops at the first termination or failure to continue. */
function playSteps(root: string, ex: Example, repo: string, say: Say): Observed[] {
  const seen: Observed[] = [];
  for (const [i, step] of ex.steps.entries()) {
    say(cyan(`\n▶ [${i + 1}/${ex.steps.length}] ${step.name}`) + dim(` — ${step.description} (expected: ${step.expect})`));
    if (step.patch) {
      const applied = git(repo, 'apply', step.patch);
      if (!applied.ok) {
        show(say, `the patch does not apply: ${applied.out.split('\n')[0]}`);
        break;
      }
    }
    const run = engine(root, 'run-experiment', [], repo);
    show(say, run.out.split('\n').filter((l) => !l.startsWith('next:')).slice(0, 6).join('\n'));
    const { log, artifacts } = logStep(root, ex, repo, step.description, lastKeep(seen), step.artifactsRestored);
    show(say, log.out);
    if (log.code !== 0) break;
    const o = { ...observe(step.name, log.out), ...(artifacts ? { artifacts } : {}) };
    showArtifacts(say, artifacts, artifacts !== undefined && artifacts.ranOwn && !artifacts.differingAfter.length && o.artifactsFrom === artifacts.best);
    seen.push(o);
    if (o.stoppedBy) break;
  }
  return seen;
}

/** The report must name where the best's artifacts are: the last keep's kept copy, which the tree holds. */
function checkReport(root: string, ex: Example, repo: string, seen: readonly Observed[], say: Say): string[] {
  const report = engine(root, 'report', [], repo);
  const named = reportedBestArtifacts(report.out);
  if (named) show(say, named.line);
  const best = lastKeep(seen);
  if (!best) return ['report: no kept run'];
  const copy = compareWithCopy(repo, ex.experiment, best);
  if (!named) return [`report: does not say where the best artifacts are (expected ${copy.dir}/)`];
  if (named.run !== best || named.dir !== copy.dir) return [`report: names ${named.dir}/ (${named.run}), expected ${copy.dir}/ (${best})`];
  if (!copy.files.length || copy.differing.length) return [`report: the tree does not hold ${best}'s artifacts (${copy.differing.join(', ') || 'none kept'})`];
  return [];
}

function verdictLine(say: Say, ok: boolean, text: string): void {
  say(`${ok ? green('✔') : red('✘')} ${text}`);
}

/** Run one example's demo; returns the process exit code (0 when the story happened). */
export function runDemo(root: string, ex: Example, say: Say = (line) => console.log(line)): number {
  const started = Date.now();
  const repo = prepareRepo(ex);
  say(bold(`autoloop demo: ${ex.name}`) + dim(`  (repository: ${repo})`));
  say(cyan(`\n▶ init-experiment: ${ex.spec.headline}`));
  const init = engine(root, 'init-experiment', initArgs(ex.spec.init), repo);
  show(say, init.out);
  if (init.code !== 0) return init.code;

  const seen = playSteps(root, ex, repo, say);

  say(cyan('\n▶ status'));
  show(say, engine(root, 'status', [], repo).out);
  say(cyan(`\n▶ git log autoloop/${ex.experiment}`));
  show(say, git(repo, 'log', '--format=%h %s', `autoloop/${ex.experiment}`).out);
  const withArtifacts = ex.spec.init.artifacts !== undefined;
  if (withArtifacts) say(cyan('\n▶ report: where the best artifacts are'));
  const reportProblems = withArtifacts ? checkReport(root, ex, repo, seen, say) : [];

  const problems = storyMismatches(ex.steps, ex.spec.terminated_by, seen);
  const userFile = path.join(repo, USER_FILE);
  const notes = fs.existsSync(userFile) && fs.readFileSync(userFile, 'utf8') === USER_TEXT;
  say('');
  verdictLine(say, problems.length === 0, `the story happened: ${ex.steps.map((s) => s.expect).join(', ')}, then terminated (${ex.spec.terminated_by})`);
  for (const p of problems) say(red(`   ${p}`));
  if (withArtifacts) verdictLine(say, reportProblems.length === 0, "the report names where the best run's artifacts are, and the tree holds them");
  for (const p of reportProblems) say(red(`   ${p}`));
  verdictLine(say, notes, `the user's untracked ${USER_FILE} survived every keep and revert`);
  say(dim(`done in ${((Date.now() - started) / 1000).toFixed(1)}s; the repository is kept at ${repo}`));
  return problems.length === 0 && reportProblems.length === 0 && notes ? 0 : 1;
}
