// Static checks of the plugin's content: the real CLI's validator (strict,
// with the plugin directory's profile) plus the rules it does not check
// (skill/agent names and descriptions, paths the content names, the
// lockfile Claude Code's install runs `npm ci` on).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, ensureClaude, REPO_ROOT } from './e2e/claude-cli.ts';

const root = REPO_ROOT;
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');
const NAME = /^[a-z0-9-]{1,64}$/;

/**
 * A Markdown file's YAML frontmatter (between the opening `---` line and the next) and the
 * body after it; no frontmatter gives empty data. The yaml package the engine already uses
 * does the parsing, so no second YAML parser (gray-matter brought js-yaml) is installed.
 */
function matter(text: string): { data: Record<string, any>; content: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/.exec(text);
  if (!m) return { data: {}, content: text };
  const data: unknown = parseYaml(m[1] ?? '');
  return { data: data && typeof data === 'object' ? (data as Record<string, unknown>) : {}, content: m[2] ?? '' };
}

/** The engine's entry points the content may name (dist/<name>.mjs), plus the hooks bundle. */
const ENGINE = ['init-experiment', 'run-experiment', 'log-experiment', 'status', 'control', 'report', 'chain', 'finalize', 'dashboard', 'diagnose', 'candidate'];
const DIST_ALLOWED = new Set([...ENGINE, 'hooks'].map((n) => `dist/${n}.mjs`));

const skillDirs = fs.existsSync(path.join(root, 'skills'))
  ? fs.readdirSync(path.join(root, 'skills'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  : [];
const agentFiles = fs.existsSync(path.join(root, 'agents'))
  ? fs.readdirSync(path.join(root, 'agents')).filter((f) => f.endsWith('.md')).sort()
  : [];
const referenceFiles = fs.existsSync(path.join(root, 'references'))
  ? fs.readdirSync(path.join(root, 'references')).filter((f) => f.endsWith('.md')).sort()
  : [];

/** Files whose `${CLAUDE_PLUGIN_ROOT}/…` paths must exist. */
const contentFiles = [
  ...skillDirs.map((d) => `skills/${d}/SKILL.md`),
  ...agentFiles.map((f) => `agents/${f}`),
  ...referenceFiles.map((f) => `references/${f}`),
  ...(fs.existsSync(path.join(root, 'hooks', 'hooks.json')) ? ['hooks/hooks.json'] : []),
];

function pluginRootPaths(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/\$\{CLAUDE_PLUGIN_ROOT\}\/([A-Za-z0-9_./-]+)/g)) {
    const p = m[1]!.replace(/[.]+$/, ''); // a sentence may end right after the path
    if (p) found.add(p);
  }
  return [...found];
}
const referenced = [...new Set(contentFiles.flatMap((f) => pluginRootPaths(read(f))))].sort();

describe('claude plugin validate (real CLI, strict)', () => {
  let claude = '';
  let home = '';
  beforeAll(() => {
    claude = ensureClaude();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-validate-'));
  }, 900_000);
  afterAll(() => {
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const validate = (args: string[]) => {
    const r = spawnSync(claude, ['plugin', 'validate', '--strict', ...args], {
      cwd: root,
      env: cliEnv(home, 'http://127.0.0.1:9'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { ...r, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };

  it('plugin.json passes --strict --profile directory with no warning', () => {
    const r = validate(['--profile', 'directory', '.claude-plugin/plugin.json']);
    console.log(r.out);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Validation passed/);
    expect(r.out, 'warning or error line').not.toMatch(/^\s*(⚠|✘)/m);
    expect(r.out).not.toMatch(/\bwarning\b/i);
  });

  it('marketplace.json passes --strict with no warning', () => {
    const r = validate(['.claude-plugin/marketplace.json']);
    console.log(r.out);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Validation passed/);
    expect(r.out, 'warning or error line').not.toMatch(/^\s*(⚠|✘)/m);
    expect(r.out).not.toMatch(/\bwarning\b/i);
  });
});

describe('manifests', () => {
  const plugin = JSON.parse(read('.claude-plugin/plugin.json'));
  const market = JSON.parse(read('.claude-plugin/marketplace.json'));

  it('plugin.json carries the fields the directory and updates rely on', () => {
    expect(plugin.name).toBe('autoloop');
    expect(plugin.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(plugin.version).toBe(JSON.parse(read('package.json')).version);
    expect(plugin.license).toBe('MIT');
    expect(plugin.author?.name).toBeTruthy();
    expect(plugin.network).toEqual({ hosts: [] });
  });

  it('the icon is a square PNG of 512-2048 px under 2 MB', () => {
    expect(plugin.icon).toBe('./.claude-plugin/icon.png');
    const png = fs.readFileSync(path.join(root, '.claude-plugin', 'icon.png'));
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect(width).toBe(height);
    expect(width).toBeGreaterThanOrEqual(512);
    expect(width).toBeLessThanOrEqual(2048);
    expect(png.length).toBeLessThan(2 * 1024 * 1024);
  });

  it('marketplace.json lists the plugin at the repository root, without a version of its own', () => {
    expect(market.name).toBe('autoloop');
    expect(market.plugins).toHaveLength(1);
    expect(market.plugins[0].name).toBe('autoloop');
    expect(market.plugins[0].source).toBe('./');
    expect(market.plugins[0]).not.toHaveProperty('version');
  });

  it('LICENSE is MIT', () => {
    expect(read('LICENSE')).toMatch(/^MIT License/);
  });
});

describe('skills', () => {
  it('the three skills exist', () => {
    expect(skillDirs).toEqual(['chain', 'run', 'setup']);
  });

  describe.each(skillDirs)('skills/%s', (dir) => {
    const file = `skills/${dir}/SKILL.md`;
    const text = fs.existsSync(path.join(root, file)) ? read(file) : '';
    const fm = matter(text);

    it('has SKILL.md with frontmatter whose name is the directory name', () => {
      expect(text, `${file} missing`).not.toBe('');
      expect(fm.data.name).toBe(dir);
      expect(fm.data.name).toMatch(NAME);
    });

    it('has a description of at most 1,024 characters and an argument hint', () => {
      expect(typeof fm.data.description).toBe('string');
      expect(fm.data.description.trim().length).toBeGreaterThan(0);
      expect(fm.data.description.length).toBeLessThanOrEqual(1024);
      expect(typeof fm.data['argument-hint']).toBe('string');
    });

    it('stays short (under 150 lines)', () => {
      expect(text.split('\n').length).toBeLessThan(150);
    });

    it('has permission for exactly the dynamic-context commands it runs, and no broad Bash rule', () => {
      const allowed = String(fm.data['allowed-tools'] ?? '');
      for (const m of fm.content.matchAll(/(?<=^|\s)!`([^`]+)`/gm)) {
        expect(allowed, `!\`${m[1]}\` needs Bash(${m[1]}) in allowed-tools`).toContain(`Bash(${m[1]!.trim()})`);
      }
      // Bash(node:*) would let `node -e` write a judge; the hooks approve the loop's own commands.
      expect(allowed).not.toMatch(/Bash\([^)]*:\*\)|Bash(,|$)/);
    });

    it('names slash commands with the plugin namespace (bare /run is a built-in)', () => {
      for (const line of fm.content.split('\n')) {
        if (/built-in/.test(line)) continue;
        expect(line).not.toMatch(/(?<![\w:/.-])\/(setup|run|chain)(?![\w-])/);
      }
    });
  });

  it('setup passes the user request through $ARGUMENTS and delegates to the scout', () => {
    const text = read('skills/setup/SKILL.md');
    expect(text).toContain('$ARGUMENTS');
    expect(text).toContain('autoloop:codebase-scout');
    expect(text).toMatch(/run_in_background: false/);
  });
});

describe('agents', () => {
  it('the two agents exist', () => {
    expect(agentFiles).toEqual(['autoloop.md', 'codebase-scout.md']);
  });

  describe.each(agentFiles)('agents/%s', (file) => {
    const fm = matter(read(`agents/${file}`));
    it('has a valid name (the file name) and a description of at most 1,024 characters', () => {
      expect(fm.data.name).toMatch(NAME);
      expect(fm.data.name).toBe(file.replace(/\.md$/, ''));
      expect(typeof fm.data.description).toBe('string');
      expect(fm.data.description.trim().length).toBeGreaterThan(0);
      expect(fm.data.description.length).toBeLessThanOrEqual(1024);
      expect(fm.content.trim().length).toBeGreaterThan(0);
    });
  });

  const tools = (file: string) =>
    String(matter(read(`agents/${file}`)).data.tools ?? '')
      .split(/[,\s]+/)
      .filter(Boolean)
      .sort();

  it('autoloop (the --agent loop) inherits the model and has the loop tools', () => {
    expect(matter(read('agents/autoloop.md')).data.model).toBe('inherit');
    expect(tools('autoloop.md')).toEqual(['Agent', 'Bash', 'Edit', 'Glob', 'Grep', 'Read', 'Skill', 'Write', 'mcp__plugin_autoloop_engine__log', 'mcp__plugin_autoloop_engine__run', 'mcp__plugin_autoloop_engine__status']);
  });

  it('declares the MCP server whose tools the agent and the hooks name (server "engine", dist/mcp.mjs)', () => {
    const manifest = JSON.parse(read('.claude-plugin/plugin.json')) as { mcpServers: Record<string, { command: string; args: string[] }> };
    expect(manifest.mcpServers).toEqual({ engine: { command: 'node', args: ['${CLAUDE_PLUGIN_ROOT}/dist/mcp.mjs'] } });
    const hooks = read('hooks/hooks.json');
    expect(hooks).toContain('Skill|mcp__plugin_autoloop_engine__.*');
    expect(hooks).toContain('NotebookEdit|Skill|mcp__plugin_autoloop_engine__.*');
  });

  it('codebase-scout is read-only on haiku', () => {
    expect(matter(read('agents/codebase-scout.md')).data.model).toBe('haiku');
    expect(tools('codebase-scout.md')).toEqual(['Glob', 'Grep', 'Read']);
  });
});

describe('paths the content names', () => {
  it('the reference files exist', () => {
    for (const f of ['protocol.md', 'domains.md', 'troubleshooting.md', 'benchmark-template.md', 'notes-template.md', 'engine.md']) {
      expect(referenceFiles, `references/${f}`).toContain(f);
    }
  });

  it('content names at least the core engine scripts', () => {
    for (const n of ['init-experiment', 'run-experiment', 'log-experiment', 'status', 'control', 'report', 'chain', 'finalize']) {
      expect(referenced).toContain(`dist/${n}.mjs`);
    }
  });

  it.each(referenced)('${CLAUDE_PLUGIN_ROOT}/%s exists', (p) => {
    if (/^dist\/.+/.test(p)) expect(DIST_ALLOWED.has(p), `${p} is not an engine entry point`).toBe(true);
    const hint = p.startsWith('dist/') ? ' (dist/ is produced by `npm run build` and committed)' : '';
    expect(fs.existsSync(path.join(root, p)), `${p} is missing${hint}`).toBe(true);
  });

  it('every references/… link in skills, agents and references resolves', () => {
    const files = [...skillDirs.map((d) => `skills/${d}/SKILL.md`), ...agentFiles.map((f) => `agents/${f}`), ...referenceFiles.map((f) => `references/${f}`)];
    let links = 0;
    for (const f of files) {
      for (const m of read(f).matchAll(/(?<![\w.-])references\/([A-Za-z0-9_.-]+\.md)/g)) {
        links++;
        expect(fs.existsSync(path.join(root, 'references', m[1]!)), `${f} links references/${m[1]}`).toBe(true);
      }
    }
    expect(links).toBeGreaterThan(0);
  });
});

describe('dependencies an install runs npm ci on', () => {
  // Everything the plugin runs is bundled in dist/; what a clone needs lives in
  // the dev/ workspace, which a plugin install does not bring (install.test.ts).
  it('the plugin itself lists no npm dependency', () => {
    const pkg = JSON.parse(read('package.json'));
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      expect(Object.keys(pkg[field] ?? {}), field).toEqual([]);
    }
    expect(pkg.workspaces).toEqual(['dev']);
  });

  it('package.json does not depend on the Claude Code CLI', () => {
    const pkg = JSON.parse(read('package.json'));
    const dev = JSON.parse(read('dev/package.json'));
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      expect(Object.keys(pkg[field] ?? {}), field).not.toContain('@anthropic-ai/claude-code');
      expect(Object.keys(dev[field] ?? {}), `dev/ ${field}`).not.toContain('@anthropic-ai/claude-code');
    }
  });

  // No `resolved` is required: npm here is set to omit registry URLs from the
  // lockfile (so no registry host is committed); Claude Code's `npm ci` then
  // resolves from the user's own registry and still checks the integrity hash.
  it('package-lock.json exists and pins every registry package with an integrity hash', () => {
    expect(fs.existsSync(path.join(root, 'package-lock.json'))).toBe(true);
    const lock = JSON.parse(read('package-lock.json'));
    // The dev/ workspace and its link are folders of this repository, not downloads.
    const packages = Object.entries<Record<string, unknown>>(lock.packages ?? {}).filter(([k, v]) => k.startsWith('node_modules/') && v.link !== true);
    expect(packages.length).toBeGreaterThan(0);
    const missing = packages.filter(([, v]) => !v.integrity).map(([k]) => k);
    expect(missing.length, `${missing.length} of ${packages.length} lock entries lack an integrity hash (first: ${missing.slice(0, 3).join(', ')})`).toBe(0);
    expect(packages.map(([k]) => k).filter((k) => k.endsWith('node_modules/@anthropic-ai/claude-code'))).toEqual([]);
  });
});

// A sanity check that the files under test were found at all.
it('content files were found', () => {
  expect(contentFiles.length).toBeGreaterThanOrEqual(3);
});
