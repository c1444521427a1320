// A candidate's guard seals the shared ledger by its last MB (ledger-cut.ts sealWindow) and checks
// it after each command from there on (checkWindow), not by the whole text twice per command. Here
// with a window of a few lines over a longer ledger: the check finds what checkTail on the whole
// text finds (a forged line, a copy of an old line, history rewritten in the window), reads the
// history before the window only when it must, and says when that history was rewritten.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWindow, sealWindow, SEAL_WINDOW_BYTES } from '../scripts/lib/candidates/ledger-cut.ts';
import { checkTail, type Witnesses } from '../scripts/lib/candidates/ledger-tail.ts';
import type { RunRecord } from '../scripts/lib/schema.ts';
import { tmpDir } from './helpers/tmp.ts';

const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
const id = (n: number) => `r${String(n).padStart(4, '0')}`;
const result = (run: string, primary: number, i: number) => JSON.stringify({ type: 'result', ts: at(i), segment: 1, run_id: run, status: 'ok', verdict: 'keep', primary, samples: [primary], metrics: { score: primary }, description: 'd', reason: 'r', duration_s: 0 });
const logged: Record<string, RunRecord> = {};
for (let i = 1; i <= 60; i++) logged[id(i)] = { run_id: id(i), phase: 'logged', status: 'ok', primary: i } as unknown as RunRecord;
const w: Witnesses = { record: (id) => logged[id] ?? null, candidate: () => null, own: 'c1' };
const OWN = 'r0999';
const history = Array.from({ length: 50 }, (_, k) => `${result(id(k + 1), k + 1, k)}\n`).join('');

function ledgerFile(text: string): string {
  const file = path.join(tmpDir('autoloop-window-'), 'ledger.jsonl');
  fs.writeFileSync(file, text);
  return file;
}

/** Seal `sealed` with a window of ~5 lines, make the ledger `now`; the window's check and checkTail's on the whole. */
function both(sealed: string, now: string) {
  const file = ledgerFile(sealed);
  const win = sealWindow(file, 5 * 250);
  expect(win.start).toBeGreaterThan(0); // the history before the window is not in it
  fs.writeFileSync(file, now);
  const whole = checkTail(sealed, now, OWN, w.record, w);
  return { got: checkWindow(file, win, OWN, w), whole: whole.forged ? whole : null };
}

describe("a candidate's guard checks the ledger from its sealed window", () => {
  it('seals the last MB from a line start, with the mark the seal file keeps', () => {
    const file = ledgerFile(history);
    const win = sealWindow(file, 1000);
    expect(history.slice(Buffer.byteLength(history) - Buffer.byteLength(win.text))).toBe(win.text);
    expect(history[win.start - 1]).toBe('\n');
    expect(win.text.length).toBeLessThanOrEqual(1000);
    expect(win.mark.length).toBe(Buffer.byteLength(history));
    expect(sealWindow(file).text).toBe(history); // shorter than SEAL_WINDOW_BYTES: whole
    expect(SEAL_WINDOW_BYTES).toBe(1 << 20);
  });

  it("passes the engine's lines appended since, dated after the seal", () => {
    const r = both(history, `${history}${result(id(55), 55, 100)}\n${result(id(56), 56, 101)}\n`);
    expect(r.whole).toBeNull();
    expect(r.got).toBeNull();
  });

  it('cuts what checkTail cuts: a forged line, a copy of a line from before the window, a partial line', () => {
    const old = result(id(3), 3, 2); // a real line of the history, 47 lines before the end
    for (const tail of [`${result(id(999), 0, 100)}\n`, `${old}\n`, `${result(id(55), 55, 100)}\n${old}\n`, `${result(id(55), 55, 100)}`, '\n']) {
      const r = both(history, `${history}${tail}`);
      expect(r.whole, tail).not.toBeNull();
      expect(r.got, tail).toEqual(r.whole);
    }
  });

  it('puts back history rewritten inside the window, as checkTail does', () => {
    const lines = history.split('\n');
    const now = `${[...lines.slice(0, 48), result(id(49), 0, 48), ...lines.slice(49)].join('\n')}`;
    const r = both(history, now);
    expect(r.whole).not.toBeNull();
    expect(r.got).toEqual(r.whole);
    expect((r.got as { text: string }).text).toBe(history);
  });

  it('says so when the history before the window was rewritten (nothing to put it back from)', () => {
    const lines = history.split('\n');
    expect(both(history, [...lines.slice(0, 10), ...lines.slice(11)].join('\n')).got).toBe('rewritten');
    expect(both(history, history.slice(0, 100)).got).toBe('rewritten');
  });
});
