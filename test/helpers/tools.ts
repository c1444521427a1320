// Real tools for the metric-source tests, installed on first use so the suite
// passes on a fresh machine: Debian packages through apt-get (as root), npm
// packages into .cache/tools (git-ignored, never a dependency of the plugin).
// A tool that cannot be had is a failure, not a skip: CI installs it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { downloadEnv } from '../global-env.ts';
import { PROJECT } from './repo.ts';

/** Debian's own interpreter: Debian's python3-* packages install for it (not for a pyenv python on PATH). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

function works(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 120_000 });
  return r.status === 0;
}

let updated = false;

/** Make sure `probe` succeeds, installing the Debian packages once if it does not. */
export function ensureDebian(packages: string[], probe: [string, ...string[]]): void {
  const [cmd, ...args] = probe;
  if (works(cmd, args)) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && fs.existsSync('/usr/bin/apt-get')) {
    console.log(`installing Debian packages for the metric-source tests: ${packages.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!updated) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 900_000 });
      updated = true;
    }
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'ignore', timeout: 600_000, env });
  }
  if (!works(cmd, args)) {
    throw new Error(`${probe.join(' ')} does not work and could not be installed here: apt-get install -y ${packages.join(' ')}`);
  }
}

const TOOLS = path.join(PROJECT, '.cache', 'tools');

/** Path of an npm package's binary in .cache/tools, installing the pinned version on first use. */
export function ensureNpmTool(pkg: string, version: string, bin: string): string {
  const file = path.join(TOOLS, 'node_modules', '.bin', bin);
  const manifest = path.join(TOOLS, 'node_modules', pkg, 'package.json');
  const have = fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: string }).version : null;
  if (have === version && fs.existsSync(file)) return file;
  console.log(`installing ${pkg}@${version} into .cache/tools for the metric-source tests`);
  fs.mkdirSync(TOOLS, { recursive: true });
  if (!fs.existsSync(path.join(TOOLS, 'package.json'))) {
    fs.writeFileSync(path.join(TOOLS, 'package.json'), '{"name":"autoloop-test-tools","private":true}\n');
  }
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', TOOLS, `${pkg}@${version}`], {
    stdio: 'ignore',
    timeout: 600_000,
    env: downloadEnv(),
  });
  if (r.status !== 0 || !fs.existsSync(file)) throw new Error(`could not install ${pkg}@${version} (npm exit ${r.status})`);
  return file;
}

/** Run a command that must succeed; its output on failure. */
export function run(cmd: string, args: string[], cwd: string, okCodes: number[] = [0]): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 900_000 });
  if (r.status === null || !okCodes.includes(r.status)) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout || '').slice(-1500)}`);
  }
  return r.stdout;
}
