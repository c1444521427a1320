// mcp: the plugin's MCP server over stdio (commands/mcp.ts); Claude Code starts it with the session.
import { mcpCommand } from './lib/commands/mcp.ts';

mcpCommand(import.meta.url);
