// finalize reads the keeps through the run index (only their lines parsed)
// and falls back to every ledger line when the index does not match: both
// ways give the same keeps, and the same branch, on a real engine's ledger
// of two segments with keeps, discards and a crash.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { benchRepo, expDir, fromState, git, init, run, step, write } from './helpers/loop.ts';
import { engine } from './helpers/engine.ts';
import { openExperiment } from '../scripts/lib/experiment.ts';
import { keptFast, keptRefs, keptRefsFast, keptSource, keptWhole } from '../scripts/lib/kept-source.ts';
import { commitsPresent, revParse } from '../scripts/lib/gitcmd.ts';

/** What a finalize made: each commit's subject and change, and what it skipped. */
function made(repo: string, json: Record<string, unknown>) {
  const commits = (json.commits as { sha: string; subject: string; runs: string[] }[]).map((c) => ({
    subject: c.subject,
    runs: c.runs,
    diff: git(repo, 'diff', `${c.sha}^`, c.sha),
  }));
  return { base: json.base, commits, skipped: json.skipped, tree: git(repo, 'rev-parse', `${String(json.head)}^{tree}`) };
}

/**
 * The shell benchmark: the subject is finalize and the index, not the
 * benchmark (no Node start per sample).
 */
const shellRepo = () => benchRepo('100', { shell: true });

/**
 * "fin"'s first segment, built once for the file (fromState): baseline 100,
 * keep 90, discard 95, a crash, keep 80 (with a new file): r0001-r0005.
 */
const firstSegment = () =>
  fromState('fin:segment-1', () => {
    const repo = shellRepo();
    expect(init(repo, 'fin', ['--max-runs', 'none']).code).toBe(0);
    step(repo, 'baseline');
    step(repo, 'halve the loop', '90');
    step(repo, 'unroll everything', '95');
    step(repo, 'use the broken cache', 'crash');
    write(repo, 'src/extra.txt', 'helper\n');
    step(repo, 'inline the hot call', '80');
    return repo;
  });

/**
 * Then a second segment: its baseline (r0006) carries the first one's best
 * (no commit of its own), then one more keep (r0007). The history of the
 * first two describes, built once for the file.
 */
const twoSegments = () =>
  fromState('fin:segment-2', () => {
    const repo = firstSegment();
    expect(init(repo, 'fin', ['--max-runs', 'none', '--goal', 'smaller still']).code).toBe(0);
    step(repo, 'baseline of segment 2');
    step(repo, 'batch the writes', '70');
    return repo;
  });

describe('finalize through the run index', () => {
  let repo = '';
  beforeAll(() => {
    repo = twoSegments();
    run('report', [], repo); // the run index is up to date
  });

  it('finds the same keeps through the index as from every line', () => {
    const exp = openExperiment(repo, 'fin');
    const fast = keptFast(exp);
    expect(fast).not.toBeNull();
    expect(fast).toEqual(keptWhole(exp));
    expect(fast?.kept.map((k) => [k.run_id, k.baseline])).toEqual([
      ['r0001', true],
      ['r0002', false],
      ['r0005', false],
      ['r0006', true],
      ['r0007', false],
    ]);
    expect(fast?.start).toBe(git(repo, 'rev-parse', 'main'));
  });

  it('makes the same branch when the index does not match the ledger (it reads every line instead)', () => {
    const first = run('finalize', ['--json'], repo);
    expect(first.code, first.stderr).toBe(0);
    const a = made(repo, first.json as Record<string, unknown>);
    const report = path.join(expDir(repo, 'fin'), 'report.md');
    const reportA = fs.readFileSync(report, 'utf8');
    expect(reportA).toBe(run('report', [], repo).stdout);
    expect(a.commits.map((c) => c.subject)).toEqual(['halve the loop', 'inline the hot call', 'batch the writes']);

    // The last result record names another run: its ledger line does not read back as that run.
    const idx = path.join(expDir(repo, 'fin'), 'runs.idx');
    const buf = fs.readFileSync(idx);
    let at = buf.length - 32;
    while (at >= 0 && buf[at] !== 1) at -= 32;
    expect(at).toBeGreaterThanOrEqual(0);
    buf.writeDoubleLE(buf.readDoubleLE(at + 24) + 1, at + 24);
    fs.writeFileSync(idx, buf);
    expect(keptFast(openExperiment(repo, 'fin'))).toBeNull();
    fs.writeFileSync(idx, buf);
    // In-process too: the fallback gives the same keeps.
    expect(keptSource(openExperiment(repo, 'fin'))).toEqual(keptWhole(openExperiment(repo, 'fin')));
    fs.writeFileSync(idx, buf);

    const second = run('finalize', ['--json', '--branch', 'again'], repo);
    expect(second.code, second.stderr).toBe(0);
    expect(made(repo, second.json as Record<string, unknown>)).toEqual(a);
    expect(fs.readFileSync(report, 'utf8')).toBe(reportA);
    // The bad index was dropped (and rebuilt), never trusted.
    expect(fs.existsSync(idx) ? fs.readFileSync(idx).equals(buf) : false).toBe(false);
  });
});

/** The run index's records: [kind, run number, offset] each (1: result, 2: committed event). */
function records(idx: string): { at: number; kind: number; run: number }[] {
  const buf = fs.readFileSync(idx);
  const out = [];
  for (let at = 0; at + 32 <= buf.length; at += 32) out.push({ at, kind: buf[at] as number, run: buf.readDoubleLE(at + 24) });
  return out;
}

describe('finalize reads whole only the keeps it replays', () => {
  let repo = '';
  let idx = '';
  let ledgerFile = '';
  beforeAll(() => {
    // The two segments above: keeps r0001 (baseline), r0002, r0005; r0006 (segment 2's baseline, on the first one's best), r0007.
    repo = twoSegments();
    idx = path.join(expDir(repo, 'fin'), 'runs.idx');
    ledgerFile = path.join(expDir(repo, 'fin'), 'ledger.jsonl');
  });
  const fresh = () => {
    expect(run('report', [], repo).code).toBe(0); // the run index brought up to date
    return openExperiment(repo, 'fin');
  };

  it('gives every keep with its commit, and reads whole the ones asked for, as every line does', () => {
    const exp = fresh();
    const whole = keptWhole(exp);
    const refs = keptRefsFast(exp);
    expect(refs).not.toBeNull();
    expect(refs?.start).toBe(whole.start);
    expect(refs?.refs).toEqual(whole.kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline })));
    expect(refs?.refs.map((r) => r.run_id)).toEqual(['r0001', 'r0002', 'r0005', 'r0006', 'r0007']);
    // The segment-2 baseline sits on the first segment's best: the same commit as r0005.
    expect(refs?.refs[3]?.commit).toBe(refs?.refs[2]?.commit);
    expect(refs?.changes([1, 4])).toEqual([whole.kept[1], whole.kept[4]]);
  });

  it('does not answer when a keep record or a committed record names another run (the index is dropped)', () => {
    for (const [kind, run] of [
      [1, 6], // the segment-2 baseline, a keep finalize skips
      [2, 2], // r0002's committed event
    ] as const) {
      fresh();
      const rec = records(idx).find((r) => r.kind === kind && r.run === run);
      expect(rec).toBeDefined();
      const buf = fs.readFileSync(idx);
      buf.writeDoubleLE(run + 1, (rec?.at as number) + 24);
      fs.writeFileSync(idx, buf);
      const exp = openExperiment(repo, 'fin');
      expect(keptRefsFast(exp)).toBeNull();
      expect(fs.existsSync(idx)).toBe(false);
      expect(keptRefs(openExperiment(repo, 'fin')).refs).toEqual(keptWhole(exp).kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline })));
    }
  });

  it('parses a keep line whose keys are written in another order, and gives the same keeps', () => {
    fresh();
    const text = fs.readFileSync(ledgerFile, 'utf8');
    // Same length (offsets hold): r0002's segment and run_id swapped, so its first bytes are not the engine's.
    const swapped = text.replace('"segment":1,"run_id":"r0002"', '"run_id":"r0002","segment":1');
    expect(swapped).not.toBe(text);
    fs.writeFileSync(ledgerFile, swapped);
    try {
      const exp = openExperiment(repo, 'fin');
      const refs = keptRefsFast(exp);
      expect(refs).not.toBeNull();
      expect(refs?.refs).toEqual(keptWhole(exp).kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline })));
      expect(fs.existsSync(idx)).toBe(true);
    } finally {
      fs.writeFileSync(ledgerFile, text);
    }
  });

  it('reading a keep whole checks its line again: a line rewritten since gives null, and the index is dropped', () => {
    const refs = keptRefsFast(fresh());
    expect(refs).not.toBeNull();
    const text = fs.readFileSync(ledgerFile, 'utf8');
    // Same length, so every offset still lands on a line start: r0002's result now names r0003.
    fs.writeFileSync(ledgerFile, text.replace('"run_id":"r0002","status"', '"run_id":"r0003","status"'));
    try {
      expect(refs?.changes([0])).not.toBeNull(); // r0001 is untouched
      expect(refs?.changes([1])).toBeNull();
      expect(fs.existsSync(idx)).toBe(false);
    } finally {
      fs.writeFileSync(ledgerFile, text);
    }
  });

  it('checks every replayed commit in one git call, as rev-parse would, and names the first missing keep', async () => {
    const head = git(repo, 'rev-parse', 'main');
    const names = [head, head.slice(0, 10), 'main', git(repo, 'rev-parse', 'main^{tree}'), 'f'.repeat(40), `${head}\nmain`, '', 'no-such-branch'];
    const one = await Promise.all(names.map(async (n) => (await revParse(repo, n)) !== null));
    expect(one).toEqual([true, true, true, false, false, false, false, false]);
    expect(await commitsPresent(repo, names)).toEqual(one);

    fresh();
    const text = fs.readFileSync(ledgerFile, 'utf8');
    // Same length: r0005's and r0007's recorded commits are gone from the repository.
    const lost: Record<string, string> = { r0005: 'f'.repeat(40), r0007: 'e'.repeat(40) };
    const gone = text
      .split('\n')
      .map((line) => {
        const l = line ? (JSON.parse(line) as { event?: string; run_id?: string; data?: { commit?: string } }) : null;
        const to = l?.event === 'committed' && l.run_id ? lost[l.run_id] : undefined;
        return to && l?.data?.commit ? line.replace(l.data.commit, to) : line;
      })
      .join('\n');
    expect(gone).not.toBe(text);
    fs.writeFileSync(ledgerFile, gone);
    try {
      const r = run('finalize', ['--json', '--branch', 'never'], repo);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`the commit of keep r0005 of "fin" (${'f'.repeat(12)}) is missing from the repository`);
      expect(git(repo, 'branch', '--list', 'never')).toBe('');
    } finally {
      fs.writeFileSync(ledgerFile, text);
    }
  });
});

describe("the run index's commits sidecar (commits.idx)", () => {
  let repo = '';
  let dir = '';
  let side = '';
  beforeAll(() => {
    // "fin"'s first segment, as above (keeps r0001, r0002, r0005); here it goes on: keep r0006.
    repo = firstSegment();
    step(repo, 'batch the writes', '70');
    dir = expDir(repo, 'fin');
    side = path.join(dir, 'commits.idx');
  });
  const refsOf = (exp: ReturnType<typeof openExperiment>) => keptWhole(exp).kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline }));
  /** The sidecar's records: [offset, run number, commit] each (64 bytes). */
  const sideRecords = () => {
    const buf = fs.readFileSync(side);
    const out: [number, number, string][] = [];
    for (let at = 0; at + 64 <= buf.length; at += 64) out.push([buf.readDoubleLE(at), buf.readDoubleLE(at + 8), buf.toString('hex', at + 24, at + 24 + (buf[at + 16] as number))]);
    return out;
  };
  /** The committed events of the ledger: [offset, run number, commit]. */
  const ledgerEvents = () => {
    const text = fs.readFileSync(path.join(dir, 'ledger.jsonl'));
    const out: [number, number, string][] = [];
    let at = 0;
    for (const line of text.toString('utf8').split('\n')) {
      const l = line ? (JSON.parse(line) as { event?: string; run_id?: string; data?: { commit?: string } }) : null;
      if (l?.event === 'committed' && l.run_id && l.data?.commit) out.push([at, Number(l.run_id.slice(1)), l.data.commit]);
      at += Buffer.byteLength(line) + 1;
    }
    return out;
  };

  it('is written by the call that brings the run index up to date, one record per committed event', () => {
    fs.rmSync(path.join(dir, 'runs.idx'), { force: true });
    fs.rmSync(side, { force: true });
    expect(run('report', [], repo).code).toBe(0);
    expect(sideRecords()).toEqual(ledgerEvents());
    expect(ledgerEvents().map((e) => e[1])).toEqual([1, 2, 5, 6]);
    // The next logged keep is appended by the next call that extends the index (here the dashboard).
    step(repo, 'fuse the passes', '60');
    expect(run('dashboard', ['--width', '100'], repo).code).toBe(0);
    expect(sideRecords()).toEqual(ledgerEvents());
  });

  it('is rebuilt from the ledger when lost, torn, corrupt or behind, and finalize gives the same keeps', () => {
    expect(run('report', [], repo).code).toBe(0);
    const good = fs.readFileSync(side);
    const damage: Record<string, () => void> = {
      lost: () => fs.rmSync(side),
      torn: () => fs.writeFileSync(side, good.subarray(0, good.length - 64 - 20)),
      behind: () => fs.writeFileSync(side, good.subarray(0, 64)),
      // A flipped byte of a commit: its checksum fails, and it and what follows are read from the ledger.
      corrupt: () => {
        const b = Buffer.from(good);
        b[64 + 30] = (b[64 + 30] as number) ^ 0xff;
        fs.writeFileSync(side, b);
      },
      foreign: () => fs.writeFileSync(side, Buffer.alloc(200, 7)),
    };
    for (const [what, hurt] of Object.entries(damage)) {
      hurt();
      const exp = openExperiment(repo, 'fin');
      const refs = keptRefsFast(exp);
      expect(refs?.refs, what).toEqual(refsOf(exp));
      // Read from the ledger, the sidecar holds the keeps' events again.
      expect(fs.readFileSync(side).equals(good), what).toBe(true);
    }
  });

  it('a forged record (checksum and all) of a replayed keep is caught when the keep is read back: the index is dropped', () => {
    expect(run('report', [], repo).code).toBe(0);
    const buf = fs.readFileSync(side);
    // r0002's record names another commit, its checksum recomputed: the record itself checks out.
    const at = sideRecords().findIndex((r) => r[1] === 2) * 64;
    const forged = 'ab'.repeat(20);
    buf.write(forged, at + 24, 'hex');
    let h = 0x811c9dc5;
    for (let k = at; k < at + 56; k += 4) h = Math.imul(h ^ buf.readUInt32LE(k), 0x01000193);
    buf.writeUInt32LE(h >>> 0, at + 56);
    fs.writeFileSync(side, buf);
    const exp = openExperiment(repo, 'fin');
    const refs = keptRefsFast(exp);
    expect(refs?.refs[1]?.commit).toBe(forged);
    expect(refs?.changes([1])).toBeNull();
    expect(fs.existsSync(side)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'runs.idx'))).toBe(false);
    // finalize never replays the forged commit: it reads every line instead.
    const r = run('finalize', ['--json', '--branch', 'forged'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect((r.json?.commits as { runs: string[] }[]).map((c) => c.runs[0])).toEqual(['r0002', 'r0005', 'r0006', 'r0007']);
    expect(git(repo, 'log', '--format=%B', 'forged')).not.toContain(forged);
  });

  it('a call killed in the middle of appending leaves a torn record that the next call cuts off', () => {
    expect(run('report', [], repo).code).toBe(0);
    const before = sideRecords();
    // Two more keeps, then a dashboard killed while it appends their two records.
    step(repo, 'drop a copy', '50');
    step(repo, 'drop another copy', '40');
    const killed = engine('dashboard', ['--width', '100'], repo, { AUTOLOOP_CRASH_AT: 'commits-idx:append' });
    expect(killed.code).toBeNull();
    expect(fs.statSync(side).size % 64).toBe(32);
    expect(sideRecords()).toEqual([...before, ledgerEvents()[before.length]]);
    // The killed call appended no index records: the next one reads the two keeps again and appends from the torn one's start.
    expect(run('report', [], repo).code).toBe(0);
    expect(sideRecords()).toEqual(ledgerEvents());
    const exp = openExperiment(repo, 'fin');
    expect(keptRefsFast(exp)?.refs).toEqual(refsOf(exp));
  });
});
