// A candidate's measured run record waits in runs/<id>/result.json until its
// log, while other candidates' benchmarks run beside it. Where the read-only
// containment is not in force one of them could rewrite it (a better primary,
// forged samples). So the record's hash goes into the ledger when it is
// measured (a line the ledger guard keeps as written), and the log trusts the
// record only when it still has that hash. The hash is of the record in the
// engine's memory, not re-read from disk, and only the first such line counts:
// a line a benchmark appends later for that run changes nothing.
import fs from 'node:fs';
import { event, type Experiment } from '../experiment.ts';
import { readLedger } from '../ledger.ts';
import { canonicalJson, sha256 } from '../integrity.ts';
import { runDir } from '../paths.ts';
import type { RunRecord } from '../schema.ts';

const digest = (record: unknown) => sha256(canonicalJson(record));

/** Record the hash of a measured run's record, as the engine wrote it (under the ledger lock). */
export function sealRecord(exp: Experiment, record: RunRecord, candidate: string): void {
  event(exp, 'measured', { candidate, sha256: digest(record) }, record.run_id);
}

/** Whether the record is as the engine wrote it when it was measured (no hash recorded: not trusted). */
export function recordIntact(exp: Experiment, runId: string): boolean {
  // Only the lines that name the run and the event are parsed: the rest of a long ledger is skipped unread by zod.
  const name = Buffer.from(`"run_id":${JSON.stringify(runId)}`);
  const kind = Buffer.from('"event":"measured"');
  // Within the line only (a view, not a copy): a search from `start` alone would run on to the file's end.
  const has = (buf: Buffer, start: number, end: number, b: Buffer) => buf.subarray(start, end).includes(b);
  const skip = (buf: Buffer, start: number, end: number) => !has(buf, start, end, name) || !has(buf, start, end, kind);
  const sealed = readLedger(exp.paths.ledger, 0, { skip }).lines.find((l) => l.type === 'event' && l.event === 'measured' && l.run_id === runId);
  if (!sealed || sealed.type !== 'event') return false;
  try {
    return sealed.data.sha256 === digest(JSON.parse(fs.readFileSync(runDir(exp.paths, runId).result, 'utf8')));
  } catch {
    return false;
  }
}
