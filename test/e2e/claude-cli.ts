// The real Claude Code CLI, pinned, installed for the tests only: into
// .cache/claude-code (git-ignored), never as a dependency of the plugin
// (a plugin install runs `npm ci` on our lockfile, devDependencies included).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLAUDE_VERSION = '2.1.329';
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PREFIX = path.join(REPO_ROOT, '.cache', 'claude-code');

function platformBinary(): string {
  const arch = os.arch() === 'arm64' ? 'arm64' : 'x64';
  return path.join(PREFIX, 'node_modules', '@anthropic-ai', `claude-code-${os.platform()}-${arch}`, 'claude');
}

function installedVersion(bin: string): string | null {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
  } catch {
    return null;
  }
}

/** Path of the pinned CLI binary, installing it on first use. */
export function ensureClaude(): string {
  const bin = platformBinary();
  if (fs.existsSync(bin) && installedVersion(bin)?.startsWith(CLAUDE_VERSION)) return bin;
  fs.mkdirSync(PREFIX, { recursive: true });
  fs.writeFileSync(path.join(PREFIX, 'package.json'), '{"name":"autoloop-test-cli","private":true}\n');
  // --ignore-scripts: the native binary arrives as a per-platform optional
  // dependency and runs as is; the wrapper's postinstall is not needed.
  execFileSync(
    'npm',
    ['install', '--prefix', PREFIX, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', `@anthropic-ai/claude-code@${CLAUDE_VERSION}`],
    { stdio: 'inherit', timeout: 600_000 },
  );
  const version = installedVersion(bin);
  if (!version?.startsWith(CLAUDE_VERSION)) throw new Error(`claude CLI ${CLAUDE_VERSION} did not install at ${bin}`);
  return bin;
}

/** Environment for a hermetic CLI run: fresh HOME, offline, pointed at a local stand-in API. */
export function cliEnv(home: string, apiUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Keep only what a shell needs; drop the coding client's own variables.
  for (const k of ['PATH', 'LANG', 'TERM', 'TMPDIR', 'USER', 'SHELL']) if (process.env[k]) env[k] = process.env[k];
  return {
    ...env,
    HOME: home,
    ANTHROPIC_BASE_URL: apiUrl,
    ANTHROPIC_API_KEY: 'sk-ant-test-dummy',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    ...extra,
  };
}
