// The dashboard and the report are readers: in a read-only .autoloop (a
// repository watched from a read-only mount) they draw from the ledger when
// their caches cannot be brought up to date. A run logged after the last
// dashboard left its index behind the ledger; the reader found it stale and
// tried to delete it, and the EROFS of that delete ended the dashboard.
// Real engine, a real read-only bind mount in a user and mount namespace.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { baselineRepo, bundle, engine, setValue, step } from './helpers/engine.ts';

/** Runs `node <bundle> …` with the repository's .autoloop mounted read-only; null where no namespace can be made. */
function readOnly(repo: string, name: string, args: string[] = []): { code: number | null; stdout: string; stderr: string } | null {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const dir = path.join(repo, '.autoloop');
  const script = `mount --bind ${q(dir)} ${q(dir)} && mount -o remount,ro,bind ${q(dir)} || exit 97
touch ${q(path.join(dir, 'probe'))} 2>/dev/null && exit 98
exec ${q(process.execPath)} ${[bundle(name), ...args, '--cwd', repo].map(q).join(' ')}`;
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script], { encoding: 'utf8' });
  if (r.error || r.status === 97) return null;
  expect(r.status, 'the mount was writable').not.toBe(98);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('readers in a read-only .autoloop', () => {
  it('the dashboard and the report show every run when the index is behind the ledger and cannot be rewritten', (ctx) => {
    const repo = baselineRepo('100');
    setValue(repo, '90');
    step(repo, 'ninety');
    // The caches now hold two runs; a third is logged after them.
    expect(engine('dashboard', [], repo).code).toBe(0);
    setValue(repo, '80');
    step(repo, 'eighty');
    const ledger = fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/ledger.jsonl'));

    const dash = readOnly(repo, 'dashboard', ['--width', '100']);
    if (dash === null) return ctx.skip('no user and mount namespace on this machine');
    expect(dash.stderr).toBe('');
    expect(dash.code).toBe(0);
    expect(dash.stdout).toMatch(/r0003 keep\s+80 .*eighty/);
    const report = readOnly(repo, 'report');
    expect(report?.stderr).toBe('');
    expect(report?.code).toBe(0);
    expect(report?.stdout).toContain('eighty');
    // Nothing of the engine's history changed.
    expect(fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/ledger.jsonl')).equals(ledger)).toBe(true);
  });
});
