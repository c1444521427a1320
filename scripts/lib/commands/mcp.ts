// The plugin's MCP server (stdio), declared in .claude-plugin/plugin.json:
// tools run, log and status, each one engine call in a pre-started process
// (scripts/lib/mcp/server.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../mcp/server.ts';

/** The plugin's version, for initialize's serverInfo ('0' when plugin.json cannot be read). */
function pluginVersion(dist: string): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(dist, '..', '.claude-plugin', 'plugin.json'), 'utf8')) as { version?: unknown }).version ?? '0');
  } catch {
    return '0';
  }
}

/** Serve from the entry point at `url`: bundled, dist/mcp.mjs beside the engine's bundles; from the sources (tsx), the plugin root's dist/. */
export function mcpCommand(url: string): void {
  const here = path.dirname(fileURLToPath(url));
  const dist = fs.existsSync(path.join(here, 'zygote.cjs')) ? here : path.join(here, '..', 'dist');
  serve(dist, pluginVersion(dist));
}
