// The seams' registries and the default source, on real files and processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSources, readSample, SourceSpec } from '../scripts/lib/sources/index.ts';
import { runnerFor, runnerNames } from '../scripts/lib/runners/index.ts';
import { localRunner } from '../scripts/lib/runners/local.ts';
import { UsageError } from '../scripts/lib/errors.ts';
import { Config } from '../scripts/lib/schema.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-seams-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('runners', () => {
  it('picks local by default and refuses an unknown name with a usage error', () => {
    expect(runnerFor({}).name).toBe('local');
    expect(runnerFor({ runner: 'slurm' }).name).toBe('slurm');
    expect(runnerNames()).toContain('local');
    expect(() => runnerFor({ runner: 'cloud' })).toThrow(UsageError);
    expect(() => runnerFor({ runner: 'cloud' })).toThrow(/unknown runner "cloud".*local/);
  });

  it('ends the sample range when the main process exits, and finds and cancels work from a handle', async () => {
    const log = path.join(dir, 'run.log');
    const pidfile = path.join(dir, 'bg.pid');
    let handle: Parameters<typeof localRunner.cancel>[0] | null = null;
    // The background line would come long after the main process: a runner that waited for the
    // group would show it (and take 30 s); one that ends the range at the main exit never does.
    // (A 0.3 s wait let a loaded machine print it before the runner measured the range's end.)
    const r = await localRunner.run({
      command: `echo in; (sleep 30; echo late) & echo $! > ${pidfile}`,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutS: 30,
      graceS: 5,
      logFile: log,
      header: '== s1',
      onStart: (h) => (handle = h),
    });
    expect(r.exitCode).toBe(0);
    expect(r.survivors).toEqual([]);
    expect(fs.readFileSync(log, 'utf8').slice(r.log.start, r.log.end)).toBe('in\n');
    expect(handle).toMatchObject({ runner: 'local' });
    // The group is gone now: nothing survives, nothing to cancel.
    expect(await localRunner.survivors(handle!)).toEqual([]);
    expect(await localRunner.cancel(handle!, 0)).toEqual([]);
  });
});

describe('sources', () => {
  it('reads METRIC lines of the sample range only, by default', async () => {
    const log = path.join(dir, 'run.log');
    const before = 'METRIC ms=1\n';
    fs.writeFileSync(log, `${before}noise\nMETRIC ms=2.5\nMETRIC n=3\nMETRIC bad=x\n`);
    const sources = buildSources(undefined);
    expect(sources.map((s) => s.label)).toEqual(['METRIC lines']);
    // Configured sources replace METRIC lines: a benchmark cannot print a METRIC line
    // to stand in for a metric its configured source did not find.
    expect(buildSources([{ kind: 'junit', file: 'j.xml' }]).map((s) => s.label)).toEqual(['junit j.xml']);
    expect(buildSources([{ kind: 'metric-lines' }, { kind: 'junit', file: 'j.xml' }]).map((s) => s.label)).toEqual(['METRIC lines', 'junit j.xml']);
    const r = await readSample(sources, { cwd: dir, log: { file: log, start: before.length, end: fs.statSync(log).size }, startedAtMs: Date.now() });
    expect(r.metrics).toEqual({ ms: [2.5], n: [3] });
    expect(r.warnings.length).toBe(1);
    expect(r.failures).toEqual([]);
  });

  it('says a METRIC line was too long to read, not that it lacks the shape', async () => {
    const log = path.join(dir, 'long.log');
    fs.writeFileSync(log, `METRIC ms=41.7${' '.repeat(5000)}\nMETRIC n=3\n`);
    const r = await readSample(buildSources(undefined), { cwd: dir, log: { file: log, start: 0, end: fs.statSync(log).size }, startedAtMs: Date.now() });
    expect(r.metrics).toEqual({ n: [3] });
    expect(r.warnings).toEqual(['ignored METRIC line "METRIC ms=41.7...": longer than 1024 bytes']);
  });

  it('validates config specs at the config boundary', () => {
    expect(SourceSpec.parse({ kind: 'metric-lines' })).toEqual({ kind: 'metric-lines' });
    expect(SourceSpec.safeParse({ kind: 'tea-leaves' }).success).toBe(false);
    const base = { name: 'x', metric: 'ms', direction: 'lower', command: 'true' };
    expect(Config.parse(base).sources).toBeUndefined();
    expect(Config.parse({ ...base, runner: 'local', sources: [{ kind: 'metric-lines' }] }).runner).toBe('local');
    expect(Config.safeParse({ ...base, sources: [] }).success).toBe(false);
  });
});
