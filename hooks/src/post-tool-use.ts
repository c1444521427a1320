// PostToolUse (Bash, Skill, our MCP tools) and UserPromptExpansion: who drives the loop.
// Claude Code fires PostToolUse only for a call that ran (a refused call fires
// none), so a session whose every call was refused never becomes the owner.
import path from 'node:path';
import { analyzeBash } from './bash-guard.ts';
import { NO_GIT_IO } from './guard-io.ts';
import { policyOf } from './pre-tool-use.ts';
import { canonical } from './policy.ts';
import { cliProcess } from './cli-process.ts';
import { AGENT, HANDOVER_SKILLS, roleOf, type Caller } from './roles.ts';
import type { ActiveFile, PostToolUseInput, SessionFile } from './schema.ts';
import { EMPTY_SESSION } from './state.ts';
import { engineOfTool } from './mcp-tools.ts';

/**
 * Does running these engine scripts drive the loop? A measurement or a log
 * after the baseline, a follow-up (chain), or any of them as the autoloop agent.
 * The setup session (init, baseline) only hands over.
 */
export function drives(engines: string[], active: ActiveFile, agentType: string | undefined): boolean {
  return engines.some((e) => {
    if (agentType === AGENT && ['init-experiment', 'run-experiment', 'log-experiment', 'chain'].includes(e)) return true;
    if (e === 'chain' || e === 'chain-experiment') return true;
    if (e === 'run-experiment' || e === 'candidate') return active.runs >= 1; // candidate: parallel mode's driver
    if (e === 'log-experiment') return active.runs >= 2; // read after the log: the baseline makes it 1
    return false;
  });
}

/** The claim records the Claude Code process the new owner runs in (a later /clear there keeps the loop). */
function claim(active: ActiveFile, who: Caller, env: Record<string, string | undefined>): SessionFile {
  return { ...EMPTY_SESSION, owner_session: who.session_id, owner_agent: who.agent_type ?? null, last_runs: active.runs, owner_process: cliProcess(env) };
}

/**
 * A session handed the loop becomes the candidate, with the Claude Code process it runs in (a /clear
 * there keeps the handover: session-start.ts). The candidate seen again in another process (resumed
 * there) has that one recorded.
 */
function enlist(session: SessionFile, who: Caller, env: Record<string, string | undefined>): SessionFile | null {
  const role = roleOf(session, who);
  const process = cliProcess(env);
  if (role === 'other') return { ...session, candidate: who.session_id, candidate_process: process };
  if (role === 'candidate' && session.candidate === who.session_id && process && session.candidate_process !== process) return { ...session, candidate_process: process };
  return null;
}

/** New hook state after a tool call that ran, or null. */
export function postToolUseDecision(
  input: PostToolUseInput,
  active: ActiveFile,
  session: SessionFile,
  projectDir: string,
  env: Record<string, string | undefined>,
): SessionFile | null {
  const ti = input.tool_input;
  if (input.tool_name === 'Skill') return typeof ti.skill === 'string' && HANDOVER_SKILLS.has(ti.skill) ? enlist(session, input, env) : null;
  const engines = enginesRun(input, active, projectDir, env);
  if (!engines.length) return null;
  if (drives(engines, active, input.agent_type)) return session.owner_session === input.session_id ? null : claim(active, input, env);
  // init-experiment starts a new experiment unowned (it clears session.json): the session that ran it is handed the loop.
  return engines.includes('init-experiment') ? enlist(session, input, env) : null;
}

/** The engine scripts a call ran: a Bash command's, or the one of our MCP tools (an engine call as the Bash one is). */
function enginesRun(input: PostToolUseInput, active: ActiveFile, projectDir: string, env: Record<string, string | undefined>): string[] {
  const ti = input.tool_input;
  const viaMcp = engineOfTool(input.tool_name);
  if (viaMcp) return [viaMcp];
  if (input.tool_name !== 'Bash' || typeof ti.command !== 'string') return [];
  const cwd = input.cwd && path.isAbsolute(input.cwd) ? input.cwd : projectDir;
  const root = env.CLAUDE_PLUGIN_ROOT ? canonical(env.CLAUDE_PLUGIN_ROOT) : null;
  // Only the engine calls matter here: no git process to read an alias.
  return analyzeBash(ti.command, { policy: policyOf(active, projectDir), cwd, env, pluginRoot: root, io: NO_GIT_IO }).engines;
}

/**
 * /autoloop:run, /autoloop:chain or /autoloop:setup typed by the user hands the loop to this session.
 * Typed in the owner session, it starts a new stint: the Stop hook's caps count again from zero
 * (the cap's own message tells the user to type /autoloop:run).
 */
export function promptExpansionDecision(command: string | undefined, session: SessionFile, who: Caller, env: Record<string, string | undefined>): SessionFile | null {
  if (!command || !HANDOVER_SKILLS.has(command)) return null;
  if (roleOf(session, who) !== 'owner') return enlist(session, who, env);
  return session.blocks > 0 || session.idle_blocks > 0 ? { ...session, blocks: 0, idle_blocks: 0 } : null;
}
