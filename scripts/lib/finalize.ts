// Finalize: turn an experiment's kept changes into a branch a reviewer can
// merge. The branch starts where the experiment started (the base of its first
// segment) and replays each kept commit in order (or squashes them), each
// message stating the measured effect. All the work happens in a temporary
// worktree: the user's checkout, index and branches (the experiment's too)
// are never touched; the only ref written is the new branch, created last.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currentTermination, loggingFirst, measuredNotLogged, openExperiment, type Experiment } from './experiment.ts';
import { keptRefs, keptRefsWhole, keptWithReport, type KeptRefs } from './kept-source.ts';
import { openWorkspace } from './workspace.ts';
import { UsageError } from './errors.ts';
import { readJsonOrNull, writeFileAtomic } from './fsx.ts';
import { workspaceFile } from './workspace-base.ts';
import { clip } from './summary.ts';
import { buildReport, effectText, renderMarkdown, type KeptChange } from './report.ts';
import type { Direction } from './schema.ts';
import { REPORT_CAPS, type ReportSource } from './report-source.ts';
import { commitsPresent, currentBranch, git, gitTry, identityEnv, revParse } from './gitcmd.ts';
import { compileScope } from './scope.ts';
import { dirtText, isClean, treeDirt, userFilesOf, type TreeDirt } from './finalize-clean.ts';
import { artifactMatcher } from './artifacts.ts';
import { chainStatus } from './chain.ts';
import { sanitize, sanitizeLine } from './sanitize.ts';
import { pidAlive } from './procs.ts';
import { crashPoint, faultAt, stopPoint } from './faults.ts';
import { chainFrom, importCommits, type Chained } from './finalize-chain.ts';
import { segmentMetrics } from './segment-metrics.ts';

/** A kept change to replay, with the experiment it belongs to (a chain spans several). */
interface Pick extends KeptChange {
  slug: string;
  metric: string;
  unit: string;
  direction: Direction;
  /**
   * A later segment's baseline with a commit of its own: init-experiment took
   * the branch as it was, commits made by hand included. Its change is
   * everything since the keep before it (`since`), not its commit's own diff.
   */
  since?: string;
}

export interface FinalCommit {
  sha: string;
  subject: string;
  /** The kept runs this commit carries (one, or all of them when squashed). */
  runs: string[];
}

export interface FinalizeResult {
  experiment: string;
  /** The experiments whose kept changes were replayed, oldest first (more than one with --chain). */
  experiments: string[];
  /** null when there was no kept change to put on a branch. */
  branch: string | null;
  base: string;
  head: string | null;
  squash: boolean;
  commits: FinalCommit[];
  /** The first SKIPPED_SHOWN keeps not replayed (baselines, no commit of their own, empty once replayed), in order; skipped_total counts them all. */
  skipped: { experiment: string; run_id: string; commit: string | null; reason: string }[];
  skipped_total: number;
  /** Absolute path of the report written beside the experiment. */
  report: string;
  /** The branch the user is on (unchanged), or null on a detached HEAD. */
  user_branch: string | null;
  /** True when the branch was already there with exactly these commits (finalize run before): nothing created. */
  existed?: boolean;
}

function plural(n: number, w: string): string {
  return `${n} ${w}${n === 1 ? '' : 's'}`;
}

function commitMessage(subject: string, body: string[], trailers: Record<string, string>): string {
  const t = Object.entries(trailers).map(([k, v]) => `${k}: ${sanitizeLine(v).replace(/\s+/g, ' ').trim()}`);
  return `${sanitizeLine(subject)}\n\n${sanitize(body.join('\n'))}\n\n${t.join('\n')}\n`;
}

/** The original commit's author, so a replayed change keeps who made it and when. */
async function authorEnv(cwd: string, sha: string): Promise<Record<string, string>> {
  const out = await git(cwd, ['log', '-1', '--format=%an%x00%ae%x00%ad', '--date=raw', sha]);
  const [name, email, date] = out.replace(/\n$/, '').split('\0');
  return name && email && date ? { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_AUTHOR_DATE: date } : {};
}

async function validBranchName(cwd: string, name: string): Promise<boolean> {
  const r = await gitTry(cwd, ['check-ref-format', '--branch', name]);
  // --branch expands @{-N} to the branch it names: only a name that stays itself can be created as it is.
  return r.code === 0 && r.stdout.trim() === name;
}

/**
 * An existing branch the new one cannot sit beside: git keeps refs as paths,
 * so a/b cannot be created while a exists, nor a while a/b does.
 */
async function collidingBranch(cwd: string, name: string): Promise<string | null> {
  const parts = name.split('/');
  const above = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
  // A pattern matches its ref and the refs under it: only an exact prefix, or a ref under the name, collides.
  const r = await gitTry(cwd, ['for-each-ref', '--format=%(refname)', ...[...above, name].map((p) => `refs/heads/${p}`)]);
  const hit = r.stdout.split('\n').map((l) => l.slice('refs/heads/'.length)).find((b) => above.includes(b) || b.startsWith(`${name}/`));
  return hit ?? null;
}

/** The chain's trail from its root up to (and including) this experiment; just the experiment when it is in no chain. */
function chainTrailTo(root: string, slug: string): string[] {
  const st = chainStatus(root, slug);
  return st.chain ? st.chain.trail.slice(0, st.position + 1) : [slug];
}

/** Per experiment, the positions of the keeps replayed: those whose commit is new in trail order (the start counts as replayed). */
function select(refs: KeptRefs[], base: string): number[][] {
  const seen = new Set<string>([base]);
  // A keep whose commit is the keep's before it is seen already: only those with another are looked at.
  return refs.map((r) =>
    r.newCommits.filter((j) => {
      const commit = r.commit(j) as string;
      if (seen.has(commit)) return false;
      seen.add(commit);
      return true;
    }),
  );
}

/**
 * Keeps whose `committed` event the ledger lacks (a line lost or unreadable in
 * its middle; a log killed before it is pending, refused earlier): their commit
 * is found on the experiment's branch by its Autoloop-Run trailer, as repair
 * finds a killed keep's. At most RECOVER_MAX are looked for; the rest refuse.
 */
const RECOVER_MAX = 20;
async function recoverCommits(exp: Experiment, r: KeptRefs): Promise<KeptRefs> {
  if (r.firstUncommitted < 0) return r;
  const ws = await openWorkspace(exp.root, exp.paths, exp.config);
  const found = new Map<number, string>();
  for (let j = r.firstUncommitted; j < r.count && found.size < RECOVER_MAX; j++) {
    if (r.commit(j) !== null) continue;
    const sha = await ws.findKeep(r.runId(j));
    if (!sha) break;
    found.set(j, sha);
  }
  if (!found.size) return r;
  const commit = (j: number) => found.get(j) ?? r.commit(j);
  const newCommits: number[] = [];
  let first = -1;
  for (let j = 0; j < r.count; j++) {
    const c = commit(j);
    if (c === null && first < 0) first = j;
    if (c !== null && (j === 0 || c !== commit(j - 1))) newCommits.push(j);
  }
  return {
    start: r.start,
    count: r.count,
    runId: (j) => r.runId(j),
    commit,
    baseline: (j) => r.baseline(j),
    newCommits,
    firstUncommitted: first,
    get refs() {
      return r.refs.map((x, j) => ({ ...x, commit: commit(j) }));
    },
    changes: (which) => r.changes(which)?.map((c, k) => ({ ...c, commit: commit(which[k] as number) })) ?? null,
  };
}

/** How many skipped keeps a result lists (all are counted): a long history skips thousands. */
export const SKIPPED_SHOWN = 20;

type Skipped = FinalizeResult['skipped'][number];
type Skips = { skipped: Skipped[]; skipped_total: number };

/** A skipped keep noted: listed (made) among the first SKIPPED_SHOWN, counted always. */
function skip(result: Skips, s: () => Skipped): void {
  if (result.skipped.length < SKIPPED_SHOWN) result.skipped.push(s());
  result.skipped_total++;
}

/**
 * What to replay: each keep's own commit, once, in ledger order (a child's
 * baseline sits on its parent's best, which is then already replayed). Only
 * the replayed keeps are read whole; their commits are checked in one git call.
 */
async function collectPicks(root: string, exps: Experiment[], refs: KeptRefs[], base: string): Promise<{ picks: Pick[]; skipped: Skips }> {
  let picked = select(refs, base);
  let changes = picked.map((p, i) => (refs[i] as KeptRefs).changes(p));
  if (changes.some((c) => c === null)) {
    // A line that is not what the index says: those experiments read from every line, and chosen again.
    refs = refs.map((r, i) => (changes[i] === null ? keptRefsWhole(exps[i] as Experiment) : r));
    picked = select(refs, base);
    changes = picked.map((p, i) => (refs[i] as KeptRefs).changes(p));
  }
  const present = await commitsPresent(root, picked.flatMap((p, i) => p.map((j) => (refs[i] as KeptRefs).commit(j) as string)));
  const skipped: Skips = { skipped: [], skipped_total: 0 };
  const picks: Pick[] = [];
  let checked = 0;
  for (const [i, e] of exps.entries()) {
    const slug = e.paths.slug;
    const mine = picked[i] as number[];
    const r = refs[i] as KeptRefs;
    // The first keep in ledger order that cannot be replayed: one with no commit, or a replayed one whose commit is gone.
    const gone = mine.findIndex((_, k) => !present[checked + k]);
    const lost = gone < 0 ? -1 : (mine[gone] as number);
    if (r.firstUncommitted >= 0 && (lost < 0 || r.firstUncommitted < lost)) throw new UsageError(`keep ${r.runId(r.firstUncommitted)} of "${slug}" has no recorded commit: run control repair first`);
    if (lost >= 0) throw new UsageError(`the commit of keep ${r.runId(lost)} of "${slug}" (${(r.commit(lost) as string).slice(0, 12)}) is missing from the repository`);
    checked += mine.length;
    // Each keep's effect in its own segment's metric (init-experiment may have changed it since).
    const metricOf = segmentMetrics(e, (changes[i] ?? []).map((c) => c.segment));
    mine.forEach((j, k) => {
      const change = changes[i]?.[k] as KeptChange;
      const m = metricOf(change.segment);
      // A later segment's baseline took what came since the keep before it, or since the start when segment 1 kept nothing.
      const since = !change.baseline ? null : j > 0 ? r.commit(j - 1) : change.segment > 1 ? r.start : null;
      picks.push({ ...change, slug, metric: m.metric, unit: m.unit, direction: m.direction, ...(since ? { since } : {}) });
    });
    // The keeps not replayed, in ledger order: the first few listed, all counted (no object for each of 10,000).
    for (let j = 0, next = 0; j < r.count && skipped.skipped.length < SKIPPED_SHOWN; j++) {
      if (mine[next] === j) next++;
      else skipped.skipped.push({ experiment: slug, run_id: r.runId(j), commit: r.commit(j), reason: r.baseline(j) ? 'baseline measurement (no change of its own)' : 'no commit of its own' });
    }
    skipped.skipped_total += r.count - mine.length;
  }
  return { picks, skipped };
}

/** The one commit of --squash: `tree` on `parent` (whose tree is `parentTree`); null when the kept changes add up to nothing. */
async function squashCommit(cwd: string, tree: string, parentTree: string, parent: string, applied: Pick[], slugs: string[], slug: string, goal: string, ident: Record<string, string>): Promise<FinalizeResult['commits'][number] | null> {
  if (tree === parentTree || !applied.length) return null;
  const firstK = applied[0] as Pick;
  const lastK = applied[applied.length - 1] as Pick;
  const from = firstK.baseline ? firstK.to : firstK.from;
  // One overall effect only when one metric was measured throughout.
  const oneMetric = applied.every((k) => k.metric === firstK.metric && k.direction === firstK.direction);
  const total = from === null || !oneMetric ? '' : `: ${effectText(firstK.metric, firstK.unit, from, lastK.to, firstK.direction)}`;
  const subject = clip(`autoloop ${slugs.join(' → ')}${total || `: ${plural(applied.length, 'kept change')}`}`, 100);
  const tag = (k: Pick) => (slugs.length > 1 ? `${k.slug} ${k.run_id}` : k.run_id);
  const body = [
    `${plural(applied.length, 'kept change')} of autoloop ${slugs.length > 1 ? `chain ${slugs.join(' → ')}` : `experiment ${slug}`}${goal ? ` (${clip(goal, 120)})` : ''}:`,
    '',
    ...applied.map((k) => `- ${tag(k)} ${effectText(k.metric, k.unit, k.from, k.to, k.direction)}: ${clip(k.description, 100)}`),
  ];
  const msg = commitMessage(subject, body, { 'Autoloop-Experiment': slugs.join(', '), 'Autoloop-Runs': applied.map(tag).join(', ') });
  const commit = (await git(cwd, ['commit-tree', '--no-gpg-sign', tree, '-p', parent, '-m', msg], ident)).trim();
  return { sha: commit, subject, runs: applied.map(tag) };
}

const WORKTREE_PREFIX = 'autoloop-final-';

/** Worktrees of finalize calls that were killed (their process is gone): removed, and git's list pruned. */
export async function sweepFinalizeWorktrees(root: string): Promise<string[]> {
  const r = await gitTry(root, ['worktree', 'list', '--porcelain', '-z']);
  if (r.code !== 0) return [];
  const removed: string[] = [];
  for (const field of r.stdout.split('\0')) {
    if (!field.startsWith('worktree ')) continue;
    const wt = field.slice('worktree '.length);
    const m = new RegExp(`^${WORKTREE_PREFIX}(\\d+)-`).exec(path.basename(path.dirname(wt)));
    if (!m || pidAlive(Number(m[1]))) continue;
    // Twice --force: a finalize killed inside `git worktree add` leaves git's own
    // "initializing" lock, which one --force (and prune) never removes.
    await gitTry(root, ['worktree', 'remove', '--force', '--force', wt]);
    fs.rmSync(path.dirname(wt), { recursive: true, force: true });
    removed.push(wt);
  }
  if (removed.length) await gitTry(root, ['worktree', 'prune']);
  return removed;
}

/**
 * Refuse what finalize cannot work from: a snapshot-mode experiment, or a
 * dirty tree (finalize-clean.ts says what that is: conflicts, uncommitted
 * changes to tracked files anywhere, untracked files in the scope of an
 * experiment replayed), in one line naming the files. Finalize builds its
 * branch from commits, so nothing of the tree would reach it: a change there
 * is either the loop's own, not settled, or the user's, which the branch
 * would silently leave out.
 */
async function checkCheckout(exp: Experiment, exps: readonly Experiment[]): Promise<void> {
  const { root } = exp;
  const users = exps.map((e) => userFilesOf(workspaceFile(e.paths)));
  const userFiles = new Set(users.flatMap((u) => u.files));
  const artifacts = exps.map((e) => artifactMatcher(e.config));
  const dirt = await treeDirt(
    root,
    exps.map((e) => compileScope(e.config.scope, [])),
    users.flatMap((u) => u.dirs),
    (p) => userFiles.has(p) || artifacts.some((m) => m(p)),
  );
  if (isClean(dirt)) return;
  throw new UsageError(`${dirtText(dirt)}; ${dirtyAdvice(exp, dirt, await currentBranch(root))}`);
}

/** What to do about conflicts: settle them where git left them. */
const CONFLICT_ADVICE = 'resolve them (or abort what stopped on them: git merge --abort, git rebase --abort, git cherry-pick --abort), then finalize again';

/**
 * What to do about in-scope edits, where they are: on the loop's own branch a
 * commit would move it (every engine call then stops until repair), so the
 * engine settles them (measured and logged: a keep is committed, the rest
 * reverted); elsewhere they are the user's to commit or stash.
 */
function dirtyAdvice(exp: Experiment, dirt: TreeDirt, on: string | null): string {
  if (dirt.conflicts.length) return CONFLICT_ADVICE;
  const rec = measuredNotLogged(exp);
  if (rec) return `${loggingFirst(rec)}, then finalize again`;
  const raw = readJsonOrNull(workspaceFile(exp.paths)) as { branch?: unknown } | null;
  const loopBranch = typeof raw?.branch === 'string' ? raw.branch : null;
  if (on === null || on !== loopBranch) return `commit or stash them first${dirt.untracked.length ? ' (git stash --include-untracked)' : ''}`;
  // Only the user's edits outside the scope: the loop never makes those.
  if (!dirt.inScope.length && !dirt.untracked.length) {
    return `a commit here would move the loop's branch ${loopBranch}: stash them (git stash), finalize, then git stash pop`;
  }
  if (!currentTermination(exp).terminate) {
    // A stopped or paused loop measures nothing until it is resumed.
    const resume = exp.state.stopped || exp.state.health.health === 'paused' ? 'control.mjs resume, then ' : '';
    return `the loop's own change: ${resume}measure and log it (run-experiment --description "<the change>": a keep is committed, anything else reverted), then finalize again`;
  }
  return `the loop has terminated and a commit here would move its branch ${loopBranch}: undo them (or stash them${dirt.untracked.length ? ', git stash --include-untracked' : ''}), then finalize again`;
}

/** Refuse an experiment whose last log was killed half-done (control repair completes it). */
function assertComplete(e: Experiment): void {
  if (e.state.pending) throw new UsageError(`the ${e.state.pending.action} of ${e.state.pending.run_id} in "${e.paths.slug}" is not complete: run control repair first`);
}

/** The experiments to replay, their keeps, and the commit the first one started from. */
interface Trail {
  slugs: string[];
  exps: Experiment[];
  /** Each experiment's keeps, in ledger order (read whole when replayed). */
  kept: KeptRefs[];
  base: string;
  /** The report's source, from the same reading as this experiment's keeps. */
  report: ReportSource;
}

/** The experiment alone, or with --chain the trail from the chain's root up to it; each must be complete and the base present. */
async function openTrail(exp: Experiment, chain: boolean): Promise<Trail> {
  const { root } = exp;
  const slug = exp.paths.slug;
  const slugs = chain ? chainTrailTo(root, slug) : [slug];
  const exps = slugs.map((s) => (s === slug ? exp : openExperiment(root, s)));
  for (const e of exps) assertComplete(e);
  // The keeps, through the run index where it answers (a long history is not parsed whole); the report's lists from the same reading.
  const own = keptWithReport(exp);
  const sources = exps.map((e) => (e === exp ? own.kept : keptRefs(e)));
  const base = sources[0]?.start ?? null;
  if (!base || (await revParse(root, base)) === null) throw new UsageError(`the starting commit of "${slugs[0]}" (${base ?? 'none recorded'}) is not in this repository`);
  return { slugs, exps, kept: sources, base, report: own.report };
}

/** The branch to create: a valid name that does not exist yet. */
/**
 * The branch to create, and the commit already there when it is our own
 * default name (a finalize run before: an interrupted close runs it again).
 * Any other existing branch is the user's and is refused at once.
 */
async function branchTarget(root: string, slug: string, asked: string | undefined): Promise<{ branch: string; existing: string | null }> {
  const branch = asked ?? `autoloop/${slug}-final`;
  if (!(await validBranchName(root, branch))) throw new UsageError(`--branch: "${branch}" is not a valid branch name`);
  const existing = await revParse(root, `refs/heads/${branch}`);
  if (existing !== null && asked !== undefined) throw alreadyExists(branch);
  const collides = existing === null ? await collidingBranch(root, branch) : null;
  if (collides) throw new UsageError(`${asked === undefined ? 'the branch' : '--branch:'} "${branch}" cannot be created beside the branch ${collides} (git keeps one of a/b and a): pass --branch NAME`);
  return { branch, existing };
}

function alreadyExists(branch: string): UsageError {
  return new UsageError(`branch ${branch} already exists: pass --branch NAME (or delete it)`);
}

/**
 * Whether `existing` is the branch this call has just built at `head`: the
 * same base, as many commits, the same tree and messages at each (the dates
 * differ). Then finalize was run before for exactly these keeps.
 */
async function sameBranch(root: string, base: string, existing: string, head: string): Promise<boolean> {
  const shape = async (tip: string) => (await gitTry(root, ['log', '--first-parent', '--format=%T%n%B%x00', `${base}..${tip}`])).stdout;
  const [a, b] = await Promise.all([shape(existing), shape(head)]);
  if (a === '' || a !== b) return false;
  // Both rest on base (the first-parent walk above stops there, or goes past it on an unrelated branch).
  return (await gitTry(root, ['merge-base', '--is-ancestor', base, existing])).code === 0;
}

/**
 * Run fn in a temporary detached worktree at base, removed afterwards
 * whatever happens. The pid in the name lets the next call tell a killed
 * finalize's worktree from a running one's.
 */
async function inTempWorktree<T>(root: string, base: string, fn: (wt: string) => Promise<T>): Promise<T> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${WORKTREE_PREFIX}${process.pid}-`));
  const wt = path.join(tmp, 'tree');
  try {
    await git(root, ['worktree', 'add', '--detach', '-q', wt, base]);
    crashPoint('finalize:worktree');
    return await fn(wt);
  } finally {
    await gitTry(root, ['worktree', 'remove', '--force', wt]);
    fs.rmSync(tmp, { recursive: true, force: true });
    await gitTry(root, ['worktree', 'prune']);
  }
}

/** Cherry-pick one kept change onto the worktree's index; the tree it makes, and whether it changes anything. */
async function applyPick(wt: string, k: Pick): Promise<{ tree: string; empty: boolean }> {
  const sha = k.commit as string;
  // A baseline that took commits made by hand: all of them, when they descend from the keep before it.
  const range = k.since !== undefined && (await gitTry(wt, ['merge-base', '--is-ancestor', k.since, sha])).code === 0;
  const r = await gitTry(wt, ['cherry-pick', '--no-commit', range ? `${k.since}..${sha}` : sha]);
  if (r.code !== 0) throw new UsageError(`keep ${k.run_id} (${sha.slice(0, 12)}) does not apply on the changes before it: finalize by hand`);
  const tree = (await git(wt, ['write-tree'])).trim();
  const headTree = (await git(wt, ['rev-parse', 'HEAD^{tree}'])).trim();
  return { tree, empty: tree === headTree };
}

/** A replayed change's message: its description, the measured effect, and where it came from. */
function pickMessage(k: Pick): string {
  const effect = effectText(k.metric, k.unit, k.from, k.to, k.direction);
  // A baseline's change is not the loop's: say where it came from (git log names each commit).
  const taken = k.since ? [`Segment ${k.segment} started from commits made outside the loop: ${k.since.slice(0, 12)}..${(k.commit as string).slice(0, 12)}.`] : [];
  return commitMessage(
    clip(k.description, 72),
    [`${effect}, measured by autoloop run ${k.run_id} of experiment ${k.slug}.`, ...taken],
    { 'Autoloop-Run': k.run_id, 'Autoloop-Experiment': k.slug, 'Autoloop-Source': k.commit as string },
  );
}

/** Commit one replayed change (`tree`) on `parent`, with its original author in `env`. */
async function pickCommit(cwd: string, k: Pick, tree: string, parent: string, env: Record<string, string>): Promise<FinalCommit> {
  const commit = (await git(cwd, ['commit-tree', '--no-gpg-sign', tree, '-p', parent, '-m', pickMessage(k)], env)).trim();
  return { sha: commit, subject: clip(k.description, 72), runs: [k.run_id] };
}

/** The picks replayed by their own trees (they chain from the start, chainFrom), no worktree. Returns the new head. */
async function replayChain(exp: Experiment, base: string, picks: Pick[], chain: Chained, result: FinalizeResult, ident: Record<string, string>): Promise<string> {
  if (result.squash) {
    const last = chain.picks[chain.picks.length - 1]?.tree ?? chain.baseTree;
    const commit = await squashCommit(exp.root, last, chain.baseTree, base, picks, result.experiments, exp.paths.slug, exp.config.goal, ident);
    if (commit) result.commits.push(commit);
    else for (const k of picks) skip(result, () => ({ experiment: k.slug, run_id: k.run_id, commit: k.commit, reason: 'empty once replayed' }));
    return commit?.sha ?? base;
  }
  // A keep whose tree is the one before it adds nothing once replayed.
  const made: { k: Pick; tree: string; author: Record<string, string>; msg: string }[] = [];
  let headTree = chain.baseTree;
  for (const [i, k] of picks.entries()) {
    const { tree, author } = chain.picks[i] as Chained['picks'][number];
    if (tree === headTree) {
      skip(result, () => ({ experiment: k.slug, run_id: k.run_id, commit: k.commit, reason: 'empty once replayed' }));
      continue;
    }
    made.push({ k, tree, author, msg: pickMessage(k) });
    headTree = tree;
  }
  // All in one fast-import; where it cannot (AUTOLOOP_FAULT_AT=finalize:import in the tests), one commit-tree each.
  let shas = faultAt('finalize:import') ? null : await importCommits(exp.root, base, made, ident);
  if (!shas) {
    shas = [];
    for (const m of made) shas.push((await pickCommit(exp.root, m.k, m.tree, shas[shas.length - 1] ?? base, { ...ident, ...m.author })).sha);
  }
  // Killed here: commit objects no ref names (git's gc takes them), no branch.
  crashPoint('finalize:chain');
  made.forEach((m, j) => result.commits.push({ sha: shas[j] as string, subject: clip(m.k.description, 72), runs: [m.k.run_id] }));
  return shas[shas.length - 1] ?? base;
}

/**
 * Replay the picks in the worktree, one commit each or one squashed, into
 * result.commits; empty ones join result.skipped. Returns the worktree's HEAD.
 */
async function replay(exp: Experiment, wt: string, picks: Pick[], result: FinalizeResult, ident: Record<string, string>): Promise<string> {
  const applied: Pick[] = [];
  for (const k of picks) {
    const { tree, empty } = await applyPick(wt, k);
    if (result.squash) {
      applied.push(k);
      continue;
    }
    if (empty) {
      skip(result, () => ({ experiment: k.slug, run_id: k.run_id, commit: k.commit, reason: 'empty once replayed' }));
      continue;
    }
    const c = await pickCommit(wt, k, tree, 'HEAD', { ...ident, ...(await authorEnv(exp.root, k.commit as string)) });
    await git(wt, ['update-ref', '--no-deref', 'HEAD', c.sha]);
    result.commits.push(c);
  }
  if (result.squash) {
    const tree = (await git(wt, ['write-tree'])).trim();
    const headTree = (await git(wt, ['rev-parse', 'HEAD^{tree}'])).trim();
    const commit = await squashCommit(wt, tree, headTree, 'HEAD', applied, result.experiments, exp.paths.slug, exp.config.goal, ident);
    if (commit) {
      await git(wt, ['update-ref', '--no-deref', 'HEAD', commit.sha]);
      result.commits.push(commit);
    } else {
      for (const k of applied) skip(result, () => ({ experiment: k.slug, run_id: k.run_id, commit: k.commit, reason: 'empty once replayed' }));
    }
  }
  return (await git(wt, ['rev-parse', 'HEAD'])).trim();
}

/**
 * The replayed keeps must add up to the last one's tree when they are one line
 * of history: a keep whose ledger line was lost (a corrupt line skipped on
 * reading) leaves its commit between two replayed ones, and a cherry-pick of
 * the next keep alone would make a branch without its change that looks
 * complete. Such a branch is refused, naming the commits no keep covers.
 * Keeps that carry a range (a segment that took commits made by hand) or do
 * not lie on one line are left as they are.
 */
async function assertAddsUp(root: string, base: string, head: string, picks: readonly Pick[]): Promise<void> {
  const last = picks[picks.length - 1]?.commit;
  if (!last || picks.some((k) => k.since !== undefined)) return;
  const trees = await gitTry(root, ['rev-parse', `${head}^{tree}`, `${last}^{tree}`]);
  const [a, b] = trees.stdout.trim().split('\n');
  if (trees.code !== 0 || a === b) return;
  const log = await gitTry(root, ['log', '--format=%H%x1f%(trailers:key=Autoloop-Run,valueonly,separator=%x2c)', `${base}..${last}`]);
  if (log.code !== 0) return;
  const between = log.stdout.split('\n').filter(Boolean).map((l) => {
    const [sha = '', run = ''] = l.split('\x1f');
    return { sha, run: run.trim() };
  });
  const onPath = new Set(between.map((c) => c.sha));
  const picked = new Set(picks.map((k) => k.commit as string));
  if ([...picked].some((c) => c !== base && !onPath.has(c))) return;
  const missing = between.filter((c) => !picked.has(c.sha)).reverse();
  if (!missing.length) return;
  const names = missing.slice(0, 5).map((c) => (c.run ? `${c.run} (${c.sha.slice(0, 12)})` : c.sha.slice(0, 12)));
  throw new UsageError(
    `the kept changes in the ledger do not add up to the best (${last.slice(0, 12)}): ${missing.length === 1 ? 'a commit' : `${missing.length} commits`} of the experiment's branch ${missing.length === 1 ? 'is' : 'are'} in no keep it holds: ${names.join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''} (its ledger line lost or unreadable); nothing created: finalize by hand (git log ${base.slice(0, 12)}..${last.slice(0, 12)})`,
  );
}

export async function finalizeExperiment(exp: Experiment, opts: { branch?: string; squash: boolean; chain?: boolean }): Promise<FinalizeResult> {
  const { root } = exp;
  await sweepFinalizeWorktrees(root);
  const slug = exp.paths.slug;
  // A log killed before its keep was committed leaves the kept change in the tree: that is for repair, not the user.
  assertComplete(exp);
  if ((await openWorkspace(root, exp.paths, exp.config)).mode !== 'git') {
    throw new UsageError(`finalize needs git: "${slug}" ran in snapshot mode (its best files are in ${path.relative(root, exp.paths.snapshot)}/)`);
  }
  const trail = await openTrail(exp, opts.chain ?? false);
  await checkCheckout(exp, trail.exps);
  const { slugs, base } = trail;
  const { branch, existing } = await branchTarget(root, slug, opts.branch);

  const userBranch = await currentBranch(root);
  const userHead = await revParse(root, 'HEAD');

  const kept = await Promise.all(trail.exps.map((e, i) => recoverCommits(e, trail.kept[i] as KeptRefs)));
  const { picks, skipped } = await collectPicks(root, trail.exps, kept, base);

  const report = path.join(exp.paths.dir, 'report.md');
  writeFileAtomic(report, renderMarkdown(buildReport(exp, REPORT_CAPS, trail.report)));

  const result: FinalizeResult = { experiment: slug, experiments: slugs, branch: null, base, head: null, squash: opts.squash, commits: [], ...skipped, report, user_branch: userBranch };
  if (!picks.length) return result;

  const ident = await identityEnv(root);
  const createBranch = async (head: string) => {
    if (!result.commits.length) return;
    await assertAddsUp(root, base, head, picks);
    stopPoint('finalize:branch');
    // Created last, and only if absent: a branch of the user's is never moved.
    const made = existing === null && (await gitTry(root, ['update-ref', '-m', `autoloop: finalize ${slug}`, `refs/heads/${branch}`, head, ''])).code === 0;
    if (made) {
      result.branch = branch;
      result.head = head;
      return;
    }
    // There before this call, or made since by a finalize running beside it: the same rule for both
    // (a name asked for is never taken over; our default one is taken when it holds exactly these commits).
    const there = existing ?? (await revParse(root, `refs/heads/${branch}`));
    if (there === null) throw new Error(`git could not create the branch ${branch}`);
    if (opts.branch !== undefined || !(await sameBranch(root, base, there, head))) throw alreadyExists(branch);
    // The commits named are the branch's own (this call's copies are left to git's gc).
    const shas = (await git(root, ['rev-list', '--reverse', '--first-parent', `${base}..${there}`])).trim().split('\n');
    result.commits = result.commits.map((c, i) => ({ ...c, sha: shas[i] ?? c.sha }));
    result.branch = branch;
    result.head = there;
    result.existed = true;
  };
  // AUTOLOOP_FAULT_AT=finalize:chain: the cherry-picks even for a chain (the test that both ways make the same branch).
  const chain = faultAt('finalize:chain') ? null : await chainFrom(root, base, picks.map((k) => ({ sha: k.commit as string, spans: k.since !== undefined })));
  if (chain) await createBranch(await replayChain(exp, base, picks, chain, result, ident));
  else await inTempWorktree(root, base, async (wt) => createBranch(await replay(exp, wt, picks, result, ident)));
  // The user's checkout must be exactly where it was.
  if ((await currentBranch(root)) !== userBranch || (await revParse(root, 'HEAD')) !== userHead) {
    throw new Error('the checked-out branch changed during finalize (it should not have): check `git status`');
  }
  return result;
}
