// The plugin's MCP tools (scripts/lib/mcp/tools.ts): Claude Code names a
// plugin server's tools mcp__plugin_<plugin>_<server>__<tool>. Each runs one
// engine command, so the hooks treat it as the Bash call of that command:
// approved without a prompt, and counted as driving the loop (post-tool-use.ts).
export const ENGINE_TOOL_PREFIX = 'mcp__plugin_autoloop_engine__';

const ENTRIES: Record<string, string> = { run: 'run-experiment', log: 'log-experiment', status: 'status' };

/** The engine command an MCP tool of ours runs, or null (another tool, another server). */
export function engineOfTool(tool: string): string | null {
  if (!tool.startsWith(ENGINE_TOOL_PREFIX)) return null;
  return Object.hasOwn(ENTRIES, tool.slice(ENGINE_TOOL_PREFIX.length)) ? ENTRIES[tool.slice(ENGINE_TOOL_PREFIX.length)]! : null;
}
