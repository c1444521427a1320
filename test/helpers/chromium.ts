// Debian's chromium for the HTML dashboard's tests: found on PATH, installed on
// first use where we may (root with apt-get), as the CLI is for the e2e tests.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
      const p = path.join(d, name);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        // next
      }
    }
  }
  return null;
}

export function ensureChromium(): string {
  const found = findChromium();
  if (found) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && fs.existsSync('/usr/bin/apt-get')) {
    console.log('autoloop tests: installing Debian\'s chromium (apt-get install -y --no-install-recommends chromium) to screenshot the HTML dashboard; first run only.');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 600_000 });
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'ignore', timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const bin = findChromium();
  if (!bin) throw new Error('chromium is not installed and could not be installed here: apt-get install -y --no-install-recommends chromium');
  return bin;
}

/** Headless flags: no network of its own, no first-run work, a fresh profile. */
export function headlessArgs(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
  ];
}

/**
 * The messages a page logs to the browser's console when it loads (an SVG
 * attribute Chromium cannot parse, a resource it could not load, a script
 * error), read from Chromium's own log: `[…:INFO:CONSOLE:line] "text", source: …`.
 */
export function consoleMessages(html: string, work: string): string[] {
  const bin = ensureChromium();
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  const r = spawnSync(bin, [...headlessArgs(profile), '--enable-logging=stderr', '--v=0', '--dump-dom', `file://${html}`], { encoding: 'utf8', timeout: 600_000, maxBuffer: 256 * 1024 * 1024 });
  if (!(r.stdout ?? '').includes('</html>')) throw new Error(`chromium loaded no page (exit ${r.status}): ${(r.stderr ?? '').slice(-800)}`);
  return (r.stderr ?? '').split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
}
