// A ledger line that cannot be read (corrupt in the middle, or not a ledger
// line) is skipped, and its run is then missing from every count. The first
// call said so once; every later one, reading from the state cache, showed the
// smaller counts as if nothing were wrong. The skipped lines are now counted in
// the cache, and status says so on every call. Real engine, real repository.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const BENCH = "console.log('METRIC score=' + Number(require('fs').readFileSync('src/v.txt', 'utf8')));\n";

describe('unreadable ledger lines, said by every status', () => {
  it('names them on the call that skips them and on every call after, text and --json', () => {
    const repo = makeRepo({ 'bench.cjs': BENCH, 'src/v.txt': '100' });
    expect(engine('init-experiment', ['--name', 'e', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo).code).toBe(0);
    for (const v of ['100', '90', '95']) {
      fs.writeFileSync(path.join(repo, 'src/v.txt'), v);
      expect(engine('run-experiment', ['--description', `v${v}`], repo).code).toBe(0);
    }
    const dir = path.join(repo, '.autoloop', 'experiments', 'e');
    const ledger = path.join(dir, 'ledger.jsonl');
    const lines = fs.readFileSync(ledger, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"type":"result"') && l.includes('"r0003"'));
    const at = lines.slice(0, i).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    lines[i] = (lines[i] as string).slice(0, 70);
    fs.writeFileSync(ledger, lines.join('\n'));
    for (const f of fs.readdirSync(dir)) if (/^(state|runs\.|commits\.|primaries)/.test(f)) fs.rmSync(path.join(dir, f), { force: true });

    const first = engine('status', [], repo);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`warning: ledger: line at byte ${at} is not JSON; skipped`);
    expect(first.stdout).toMatch(/runs: 2 this segment/);
    for (let k = 0; k < 2; k++) {
      const again = engine('status', [], repo);
      expect(again.stdout).toContain(`warning: ledger: 1 unreadable line(s) skipped (the first at byte ${at}): the runs they held are not counted`);
      const json = engine('status', ['--json'], repo).json as { warnings: string[] };
      expect(json.warnings[0]).toMatch(/^ledger: 1 unreadable line\(s\) skipped/);
    }
    // A run logged after it: the count stays, the state goes on.
    fs.writeFileSync(path.join(repo, 'src/v.txt'), '80');
    expect(engine('run-experiment', ['--description', 'v80'], repo).code).toBe(0);
    const after = engine('status', [], repo);
    expect(after.stdout).toContain('warning: ledger: 1 unreadable line(s) skipped');
    expect(after.stdout).toMatch(/runs: 3 this segment/);
  });
});
