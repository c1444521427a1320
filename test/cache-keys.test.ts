// The two caches every call reads before its first git process (issue 8, "the
// cost of an iteration"): state.json, tied to its ledger by the ledger's bytes
// before the cache's offset, and config.parsed.json, tied to config.yaml by the
// YAML's text. Both compare bytes, not a digest (node:crypto then loads while
// git runs), and must still refuse what they refused, and take what the engine
// before them wrote when it is still right.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parsedConfigFile, saveConfig } from '../scripts/lib/config.ts';
import { experimentPaths } from '../scripts/lib/paths.ts';
import { emptyState } from '../scripts/lib/reduce.ts';
import { checkpointFile, loadStateCache, saveStateCache } from '../scripts/lib/state-cache.ts';
import { cleanupTmp, tmpDir } from './helpers/tmp.ts';

afterAll(cleanupTmp);

const LINE = (i: number) => `{"type":"event","ts":"2026-12-01T00:00:0${i}.000Z","segment":1,"event":"note","data":{"i":${i}}}\n`;

function cached(): { paths: ReturnType<typeof experimentPaths>; offset: number } {
  const paths = experimentPaths(tmpDir(), 'exp');
  fs.mkdirSync(paths.dir, { recursive: true });
  fs.writeFileSync(paths.ledger, LINE(1) + LINE(2));
  const offset = fs.statSync(paths.ledger).size;
  saveStateCache(paths, { ...emptyState(), segment: 1, ledger_offset: offset, valid_primaries: [1, 2] });
  return { paths, offset };
}

const stateFile = (paths: ReturnType<typeof experimentPaths>) => JSON.parse(fs.readFileSync(paths.state, 'utf8')) as Record<string, unknown>;

describe('the state cache and its ledger', () => {
  it('is used with its own ledger and refused with another one of the same length', () => {
    const { paths, offset } = cached();
    expect(loadStateCache(paths)?.ledger_offset).toBe(offset);
    fs.writeFileSync(paths.ledger, LINE(3) + LINE(4));
    expect(fs.statSync(paths.ledger).size).toBe(offset);
    expect(loadStateCache(paths)).toBeNull();
  });

  it("takes a cache the engine before wrote (its tail's sha256) while it is this ledger's, not after", () => {
    const { paths, offset } = cached();
    const tail = fs.readFileSync(paths.ledger).subarray(offset - 64, offset);
    const old = { ...stateFile(paths), ledger_tail: createHash('sha256').update(tail).digest('hex').slice(0, 16) };
    for (const f of [paths.state, checkpointFile(paths)]) fs.writeFileSync(f, JSON.stringify(old));
    expect(loadStateCache(paths)?.valid_primaries).toEqual([1, 2]);
    fs.writeFileSync(paths.ledger, LINE(3) + LINE(4));
    expect(loadStateCache(paths)).toBeNull();
  });

  it('refuses a tail of the wrong length', () => {
    const { paths } = cached();
    const bad = JSON.stringify({ ...stateFile(paths), ledger_tail: 'ab' });
    // Its checkpoint too (a cache refused falls back to it).
    for (const f of [paths.state, checkpointFile(paths)]) fs.writeFileSync(f, bad);
    expect(loadStateCache(paths)).toBeNull();
  });
});

describe('config.yaml and its parsed copy', () => {
  it('answers only for the exact text it came from; a copy keyed as the engine before keyed it is parsed again', () => {
    const file = path.join(tmpDir(), 'config.yaml');
    saveConfig(file, { name: 'exp', metric: 'score', direction: 'lower', command: 'sh bench.sh' });
    loadConfig(file);
    const text = fs.readFileSync(file, 'utf8');
    const copy = JSON.parse(fs.readFileSync(parsedConfigFile(file), 'utf8')) as { text: string; fields: Record<string, unknown> };
    expect(copy.text).toBe(text);
    // The same text with one byte more (a trailing space): another text, so the YAML is read.
    fs.writeFileSync(parsedConfigFile(file), JSON.stringify({ text: `${text} `, fields: { ...copy.fields, max_runs: 7 } }));
    expect(loadConfig(file).max_runs).toBe(100);
    fs.writeFileSync(parsedConfigFile(file), JSON.stringify({ sha256: createHash('sha256').update(text).digest('hex'), fields: { ...copy.fields, max_runs: 7 } }));
    expect(loadConfig(file).max_runs).toBe(100);
    expect((JSON.parse(fs.readFileSync(parsedConfigFile(file), 'utf8')) as { text?: string }).text).toBe(text);
  });
});
