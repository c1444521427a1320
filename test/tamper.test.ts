// The seal around each command of the code under test, on real files: the
// ledger is sealed by its stat and its last bytes (it grows without bound),
// so an append is cut off again at any size, and a whole-file rewrite is put
// back while the ledger fits the tail the seal keeps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { breakSeal, engineDir, seal, SEAL_TAIL_BYTES } from '../scripts/lib/tamper.ts';
import type { ExperimentPaths } from '../scripts/lib/paths.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function ledgerOf(bytes: number): { root: string; file: string; exp: ExperimentPaths; original: Buffer } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-tamper-'));
  dirs.push(root);
  const file = path.join(root, 'ledger.jsonl');
  const line = '{"type":"result","run_id":"r0001","primary":1}\n';
  const original = Buffer.from(line.repeat(Math.ceil(bytes / line.length)));
  fs.writeFileSync(file, original);
  return { root, file, exp: { ledger: file, dir: root, config: path.join(root, 'config.yaml') } as ExperimentPaths, original };
}

const sealLedger = (l: ReturnType<typeof ledgerOf>) => seal(l.exp, l.root, [], [l.file]);
const FORGED = '{"type":"result","run_id":"r9999","primary":0}\n';

describe.each([
  ['a small ledger', 10_000],
  ['a ledger bigger than the tail the seal keeps', SEAL_TAIL_BYTES * 2 + 123],
])('%s', (_name, bytes) => {
  it('an appended line is cut off again, leaving the exact bytes', () => {
    const l = ledgerOf(bytes);
    const s = sealLedger(l);
    fs.appendFileSync(l.file, FORGED);
    expect(breakSeal(s, l.root)).toEqual(['ledger.jsonl']);
    expect(fs.readFileSync(l.file).equals(l.original)).toBe(true);
  });

  it('no write: nothing reported, nothing changed', () => {
    const l = ledgerOf(bytes);
    const s = sealLedger(l);
    expect(breakSeal(s, l.root)).toEqual([]);
    expect(fs.readFileSync(l.file).equals(l.original)).toBe(true);
  });
});

describe('a rewrite of the ledger', () => {
  it('is put back whole while the ledger fits the tail', () => {
    const l = ledgerOf(10_000);
    const s = sealLedger(l);
    fs.writeFileSync(l.file, FORGED);
    expect(breakSeal(s, l.root)).toEqual(['ledger.jsonl']);
    expect(fs.readFileSync(l.file).equals(l.original)).toBe(true);
  });

  it('is reported, never hidden, when it changed bytes before the tail', () => {
    const l = ledgerOf(SEAL_TAIL_BYTES * 2);
    const s = sealLedger(l);
    const fd = fs.openSync(l.file, 'r+');
    fs.writeSync(fd, Buffer.from('{"type":"result","run_id":"r0001","primary":0}\n'), 0, undefined, 0);
    fs.closeSync(fd);
    expect(breakSeal(s, l.root)).toEqual([expect.stringMatching(/^ledger\.jsonl \(rewritten before its last 1 MB: not put back\)$/)]);
  });

  it('a removed ledger that fits the tail is put back', () => {
    const l = ledgerOf(10_000);
    const s = sealLedger(l);
    fs.rmSync(l.file);
    expect(breakSeal(s, l.root)).toEqual(['ledger.jsonl']);
    expect(fs.readFileSync(l.file).equals(l.original)).toBe(true);
  });
});

// A run seals before every sample: the ledger's tail (up to 1 MB) is read again only when the
// ledger moved since the last seal; a seal after the engine appended must hold the new bytes.
describe.each([
  ['a small ledger', 10_000],
  ['a ledger bigger than the tail the seal keeps', SEAL_TAIL_BYTES * 2 + 123],
])('seals one after another (one per sample), %s', (_name, bytes) => {
  it('an untouched ledger is not read again: the next seal keeps the same tail', () => {
    const l = ledgerOf(bytes);
    const first = sealLedger(l);
    expect(breakSeal(first, l.root)).toEqual([]);
    const next = sealLedger(l);
    expect(next.tails.get(l.file)).toBe(first.tails.get(l.file));
  });

  it("the engine's append between two seals is kept; the command's append after the second is cut off", () => {
    const l = ledgerOf(bytes);
    expect(breakSeal(sealLedger(l), l.root)).toEqual([]);
    const engineLine = '{"type":"event","run_id":"r0002","event":"outside_change"}\n';
    fs.appendFileSync(l.file, engineLine);
    const s = sealLedger(l);
    fs.appendFileSync(l.file, FORGED);
    expect(breakSeal(s, l.root)).toEqual(['ledger.jsonl']);
    expect(fs.readFileSync(l.file).equals(Buffer.concat([l.original, Buffer.from(engineLine)]))).toBe(true);
  });

  it('a rewrite after a seal that kept the earlier tail is still caught', () => {
    const l = ledgerOf(bytes);
    expect(breakSeal(sealLedger(l), l.root)).toEqual([]);
    const s = sealLedger(l);
    fs.writeFileSync(l.file, FORGED);
    const whole = bytes <= SEAL_TAIL_BYTES;
    expect(breakSeal(s, l.root)).toEqual([whole ? 'ledger.jsonl' : expect.stringMatching(/not put back/)]);
    if (whole) expect(fs.readFileSync(l.file).equals(l.original)).toBe(true);
  });
});

describe("the engine's own directory", () => {
  it('is where the entry point really lives, found again when the entry point is another', () => {
    const saved = process.argv[1];
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-engine-dir-')));
    dirs.push(root);
    fs.mkdirSync(path.join(root, 'dist'));
    fs.writeFileSync(path.join(root, 'dist', 'run.main.cjs'), '');
    fs.symlinkSync(path.join('dist', 'run.main.cjs'), path.join(root, 'run.mjs'));
    try {
      process.argv[1] = path.join(root, 'run.mjs');
      expect(engineDir()).toBe(path.join(root, 'dist'));
      expect(engineDir()).toBe(path.join(root, 'dist'));
      process.argv[1] = saved as string;
      expect(engineDir()).toBe(saved ? path.dirname(fs.realpathSync(saved)) : null);
    } finally {
      process.argv[1] = saved as string;
    }
  });
});
