// PreToolUse: the session that drives the engine claims the loop; while the
// loop is active, the owner (or anyone, before a claim) may not write the
// judges or the engine's state, edit outside the scope, or run git by hand.
import path from 'node:path';
import { analyzeBash } from './bash-guard.ts';
import { canonical, editDenial, relOf, type Policy } from './policy.ts';
import type { ActiveFile, PreToolUseInput, SessionFile } from './schema.ts';
import { EMPTY_SESSION } from './state.ts';
import { clip, MAX_TEXT } from './text.ts';

export interface PreToolUseResult {
  deny: string | null;
  /** New hook state to persist (the claim), or null. */
  session: SessionFile | null;
}

const EDIT_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit']);

export function preToolUseDecision(
  input: PreToolUseInput,
  active: ActiveFile,
  session: SessionFile,
  projectDir: string,
  env: Record<string, string | undefined>,
): PreToolUseResult {
  const policy: Policy = {
    projectDir: canonical(projectDir),
    protect: active.protect,
    writable: active.writable,
    scope: active.scope,
  };
  const cwd = input.cwd && path.isAbsolute(input.cwd) ? input.cwd : projectDir;
  let next: SessionFile | null = null;
  let deny: string | null = null;

  if (input.tool_name === 'Bash') {
    const command = input.tool_input.command;
    if (typeof command !== 'string') return { deny: null, session: null };
    const root = env.CLAUDE_PLUGIN_ROOT;
    const verdict = analyzeBash(command, { policy, cwd, env, pluginRoot: root ? canonical(root) : null });
    // The last session to drive the engine owns the loop: a restart takes over.
    // Driving starts after the baseline (or under --agent autoloop): the setup
    // session that only initialises and measures the baseline can hand over and
    // end without the Stop hook pushing it into the loop.
    const drives = active.runs > 0 || input.agent_type === 'autoloop:autoloop';
    if (verdict.claims && drives && session.owner_session !== input.session_id) {
      next = { ...EMPTY_SESSION, owner_session: input.session_id, owner_agent: input.agent_type ?? null, last_runs: active.runs };
    }
    deny = verdict.deny;
  } else if (EDIT_TOOLS.has(input.tool_name)) {
    const file = input.tool_input.file_path ?? input.tool_input.notebook_path;
    if (typeof file === 'string' && file !== '') {
      const rel = relOf(policy, path.resolve(cwd, file));
      if (rel !== null) deny = editDenial(policy, rel);
    }
  }

  const owner = (next ?? session).owner_session;
  const guarded = active.loop === 'active' && (owner === null || owner === input.session_id);
  return { deny: guarded && deny ? clip(deny, MAX_TEXT) : null, session: next };
}
