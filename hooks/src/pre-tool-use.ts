// PreToolUse: deny what would hurt the judges, the engine's state or git;
// approve what the protocol needs (the allow list, references/permissions.md);
// leave everything else to the user's own permission settings. Both apply
// only to the session that owns the loop (or is handed it): another Claude in
// the same repository is left alone. A model that keeps going after the loop
// terminated is halted after a bounded number of tool calls.
import fs from 'node:fs';
import path from 'node:path';
import type { analyzeBash } from './bash-guard.ts';
import { canonical, editAllowed, gitConfigDenial, gitConfigFiles, physical, editDenial, linkDenial, namedRels, outsideJudgeDenial, relOf, scratchDir, writeDenial, type Policy } from './policy.ts';
import { isGuarded, isLive, LOOP_SKILLS, mayApprove, roleOf, terminationKey, type Role } from './roles.ts';
import type { ActiveFile, PreToolUseInput, SessionFile } from './schema.ts';
import { clip, MAX_TEXT } from './text.ts';
import { bashLines, bashTimeoutMs, editLines } from './journal.ts';
import { engineOfTool } from './mcp-tools.ts';

/**
 * The Bash guard, passed in so that a hooks bundle judging only file tools
 * leaves it out (loader.ts picks the bundle by tool). Without it a Bash call
 * is an error (the hook says so and decides nothing), never an approval.
 */
export type BashAnalyzer = typeof analyzeBash;

export interface PreToolUseResult {
  decision: 'allow' | 'deny' | null;
  reason: string | null;
  /** New hook state to persist, or null. */
  session: SessionFile | null;
  /** Halt the session (continue: false) with this reason. */
  halt: string | null;
  /** Lines for the attribution journal (the owner's writes while the loop is active), or none. */
  journal: string[];
}

/** Tool calls the owner may make after termination (enough to report, chain or close) before it is halted. */
export const MAX_CALLS_PAST_END = 30;
export const ALLOW_REASON = "autoloop: on the loop's allow list";
const EDIT_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit']);

export const HALT_REASON = (a: ActiveFile): string =>
  `autoloop: experiment "${a.experiment}" terminated (${a.terminated_by ?? 'done'}) and this session made ${MAX_CALLS_PAST_END} more tool calls without closing it, so it is halted. Next session: /autoloop:chain (report, then follow up or finalize and clear).`;

export function policyOf(active: ActiveFile, projectDir: string): Policy {
  return {
    projectDir: canonical(projectDir),
    protect: active.protect,
    writable: active.writable,
    scope: active.scope,
    scratch: scratchDir(active.experiment),
    worktrees: active.worktrees.map((w) => canonical(w.path)),
  };
}

interface Judged {
  deny: string | null;
  allow: boolean;
  /** What the call would write, for the journal (journal.ts). */
  lines: string[];
}

function judge(
  input: PreToolUseInput,
  active: ActiveFile,
  policy: Policy,
  projectDir: string,
  env: Record<string, string | undefined>,
  analyzeBash: BashAnalyzer | null,
  now: number,
): Judged {
  const cwd = input.cwd && path.isAbsolute(input.cwd) ? input.cwd : projectDir;
  const root = env.CLAUDE_PLUGIN_ROOT ? canonical(env.CLAUDE_PLUGIN_ROOT) : null;
  const tool = input.tool_name;
  const ti = input.tool_input;
  if (tool === 'Bash') {
    if (typeof ti.command !== 'string') return { deny: null, allow: false, lines: [] };
    if (!analyzeBash) throw new Error('this hooks bundle has no Bash guard');
    const v = analyzeBash(ti.command, { policy, cwd, env, pluginRoot: root });
    // A directory that already exists is not made by this call (mkdir -p src would claim the whole scope).
    const made = { ...v, dirs: v.dirs.filter((d) => !fs.existsSync(path.join(policy.projectDir, d))) };
    return { deny: v.deny, allow: v.safe, lines: bashLines(made, ti.run_in_background === true, now, bashTimeoutMs(ti.timeout, env)) };
  }
  if (EDIT_TOOLS.has(tool)) {
    // The path the tool writes: a notebook_path beside a file_path must not hide it (nor the reverse).
    const file = tool === 'NotebookEdit' ? ti.notebook_path : ti.file_path;
    if (typeof file !== 'string' || file === '') return { deny: null, allow: false, lines: [] };
    const abs = path.resolve(cwd, file);
    const lexical = editJudged(abs, policy, env, active, now);
    // A `..` after a link steps out of where the link leads (src/link/../x): the file the kernel opens is judged too.
    const phys = /(^|\/)\.\.(\/|$)/.test(file) ? physical(path.isAbsolute(file) ? file : `${cwd}/${file}`) : null;
    if (phys === null || phys === canonical(abs)) return lexical;
    const kernel = editJudged(phys, policy, env, active, now);
    return { deny: kernel.deny ?? lexical.deny, allow: kernel.allow && lexical.allow, lines: kernel.lines };
  }
  if (tool === 'Skill') return { deny: null, allow: typeof ti.skill === 'string' && LOOP_SKILLS.has(ti.skill), lines: [] };
  // Our MCP server's tools run one engine command each, as an approved Bash engine call does (and write nothing of the model's).
  if (engineOfTool(tool)) return { deny: null, allow: true, lines: [] };
  if (tool === 'Read') {
    // The plugin's own references live outside the project (Claude Code asks for those).
    // The plugin directory may be a tree of links (a development checkout): either spelling counts.
    if (typeof ti.file_path !== 'string' || !env.CLAUDE_PLUGIN_ROOT || !root) return { deny: null, allow: false, lines: [] };
    const file = path.resolve(cwd, ti.file_path);
    const under = (f: string, r: string): boolean => f.startsWith(r + path.sep);
    const named = under(file, path.resolve(env.CLAUDE_PLUGIN_ROOT)) || under(canonical(file), root);
    // A `..` after a link steps out of where the link leads (<root>/link/../x): the file the kernel opens must be the plugin's too.
    const kernel = !/(^|\/)\.\.(\/|$)/.test(ti.file_path) || under(physical(path.isAbsolute(ti.file_path) ? ti.file_path : `${cwd}/${ti.file_path}`), root);
    return { deny: null, allow: named && kernel, lines: [] };
  }
  return { deny: null, allow: false, lines: [] };
}

/** An Edit, Write, MultiEdit or NotebookEdit of the absolute path `abs`. */
function editJudged(abs: string, policy: Policy, env: Record<string, string | undefined>, active: ActiveFile, now: number): Judged {
  const rel = relOf(policy, abs);
  // A judge that is a link out of the project is still written by its own name.
  const named = namedRels(policy, abs).map((r) => writeDenial(policy, r)).find((d) => d !== null) ?? null;
  if (rel === null) return { deny: named ?? outsideJudgeDenial(policy, abs) ?? gitConfigDenial(canonical(abs), gitConfigFiles(env), false), allow: false, lines: [] };
  const deny = named ?? editDenial(policy, rel) ?? linkDenial(policy, canonical(abs));
  return { deny, allow: !deny && editAllowed(policy, rel, active.loop === 'active'), lines: editLines(rel, now) };
}

/** Count the owner's calls after termination; past the cap, halt. */
function pastEnd(active: ActiveFile, session: SessionFile, role: Role): { session: SessionFile | null; halt: string | null } {
  // Parallel mode: candidates still open after termination are the owner's to log or close.
  if (active.loop !== 'terminated' || role !== 'owner' || active.worktrees.length > 0) return { session: null, halt: null };
  const key = terminationKey(active);
  const calls = (session.past_end?.key === key ? session.past_end.calls : 0) + 1;
  return { session: { ...session, past_end: { key, calls } }, halt: calls > MAX_CALLS_PAST_END ? HALT_REASON(active) : null };
}

export function preToolUseDecision(
  input: PreToolUseInput,
  active: ActiveFile,
  session: SessionFile,
  projectDir: string,
  env: Record<string, string | undefined>,
  analyzeBash: BashAnalyzer | null,
  now = Date.now(),
): PreToolUseResult {
  const role = roleOf(session, input);
  const end = pastEnd(active, session, role);
  if (end.halt) return { decision: 'deny', reason: end.halt, session: end.session, halt: end.halt, journal: [] };
  if (!isLive(active)) return { decision: null, reason: null, session: null, halt: null, journal: [] };
  const { deny, allow, lines } = judge(input, active, policyOf(active, projectDir), projectDir, env, analyzeBash, now);
  if (deny && isGuarded(active, session, role)) return { decision: 'deny', reason: clip(deny, MAX_TEXT), session: end.session, halt: null, journal: [] };
  // The writes of the loop's sessions while it runs: the owner, one handed the loop (a restart writes
  // before its first engine call makes it the owner), anyone while nobody owns it. Another session's
  // new in-scope file is the user's, set aside unmeasured, never swept into the loop's keep or revert.
  // Only the owner's calls end its Bash windows.
  const ours = role === 'owner' || isGuarded(active, session, role);
  const journal = active.loop !== 'active' || !ours ? [] : role === 'owner' ? lines : lines.filter((l) => !l.startsWith('E '));
  if (allow && mayApprove(active, role)) return { decision: 'allow', reason: ALLOW_REASON, session: end.session, halt: null, journal };
  return { decision: null, reason: null, session: end.session, halt: null, journal };
}
