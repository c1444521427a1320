// config.yaml and its parsed copy (config.parsed.json): the copy spares every
// engine call the YAML parser, and must never hide an edit or let through what
// the YAML would not.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSeal, loadConfig, parsedConfigFile, saveConfig } from '../scripts/lib/config.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';

afterAll(cleanupTmp);

function configDir(): string {
  const file = path.join(tmpDir(), 'config.yaml');
  saveConfig(file, { name: 'exp', metric: 'score', direction: 'lower', command: 'sh bench.sh' });
  return file;
}

const copyOf = (file: string) => JSON.parse(fs.readFileSync(parsedConfigFile(file), 'utf8')) as { text: string; fields: Record<string, unknown> };

describe('config.yaml and its parsed copy', () => {
  it('writes the copy on the first read and answers the same from it', () => {
    const file = configDir();
    expect(fs.existsSync(parsedConfigFile(file))).toBe(false);
    const first = loadConfig(file);
    expect(copyOf(file).fields).toMatchObject({ name: 'exp', metric: 'score' });
    expect(loadConfig(file)).toEqual(first);
  });

  it('reads an edit of the YAML at once', () => {
    const file = configDir();
    loadConfig(file);
    fs.appendFileSync(file, 'goal: faster startup\n');
    expect(loadConfig(file).goal).toBe('faster startup');
    expect(copyOf(file).fields.goal).toBe('faster startup');
  });

  it('ignores a copy made from other text', () => {
    const file = configDir();
    loadConfig(file);
    const c = copyOf(file);
    fs.writeFileSync(parsedConfigFile(file), JSON.stringify({ text: c.text.replace('sh bench.sh', 'sh other.sh'), fields: { ...c.fields, max_runs: 1 } }));
    expect(loadConfig(file).max_runs).toBe(100);
  });

  it('validates the copy like the YAML: one line naming the field', () => {
    const file = configDir();
    loadConfig(file);
    const c = copyOf(file);
    fs.writeFileSync(parsedConfigFile(file), JSON.stringify({ text: c.text, fields: { ...c.fields, direction: 'sideways' } }));
    expect(() => loadConfig(file)).toThrow(/^config\.yaml: direction: Invalid option: expected one of "lower"\|"higher"$/);
  });

  it('reports bad YAML in one line and writes no copy', () => {
    const file = configDir();
    fs.writeFileSync(file, 'name: [unclosed\n');
    expect(() => loadConfig(file)).toThrow(/config\.yaml: not valid YAML/);
    expect(fs.existsSync(parsedConfigFile(file))).toBe(false);
  });
});

describe('the validated Config in the copy, sealed by the engine source that validated it (issue 8: zod CPU per call)', () => {
  type Sealed = { text: string; fields: Record<string, unknown>; config?: Record<string, unknown>; seal?: string };
  const sealedOf = (file: string) => JSON.parse(fs.readFileSync(parsedConfigFile(file), 'utf8')) as Sealed;
  const put = (file: string, c: Sealed) => fs.writeFileSync(parsedConfigFile(file), JSON.stringify(c));

  it('is taken as it is by the same source (no validation): a copy the engine sealed answers', () => {
    const file = configDir();
    const first = loadConfig(file, 'src-a');
    const c = sealedOf(file);
    expect(c.config).toEqual(first);
    expect(c.seal).toBe(configSeal('src-a', c.text, c.config));
    expect(loadConfig(file, 'src-a')).toEqual(first);
    // Proof that it is not validated again: a value zod would refuse, sealed as the engine seals, answers as it is.
    const config = { ...c.config, direction: 'sideways' };
    put(file, { ...c, config, seal: configSeal('src-a', c.text, config) });
    expect(loadConfig(file, 'src-a').direction).toBe('sideways');
  });

  it('is validated again when its seal does not hold: edited by hand, another engine source, none', () => {
    const file = configDir();
    loadConfig(file, 'src-a');
    const c = sealedOf(file);
    // Edited by hand (the seal not redone): the fields are validated, the copy sealed again.
    put(file, { ...c, config: { ...c.config, max_runs: 7 } });
    expect(loadConfig(file, 'src-a').max_runs).toBe(100);
    expect(sealedOf(file).config?.max_runs).toBe(100);
    // Sealed by another engine source (an update): validated by this one's schemas, and sealed by it.
    put(file, { ...c, config: { ...c.config, max_runs: 7 }, seal: configSeal('src-old', c.text, { ...c.config, max_runs: 7 }) });
    expect(loadConfig(file, 'src-a').max_runs).toBe(100);
    expect(sealedOf(file).seal).toBe(configSeal('src-a', c.text, sealedOf(file).config));
    // Run from the sources (no source key): nothing trusted, the fields validated as before.
    put(file, { ...c, fields: { ...c.fields, direction: 'sideways' } });
    expect(() => loadConfig(file, null)).toThrow(/^config\.yaml: direction: Invalid option/);
    // The fields of a sealed copy are not what answers: the sealed Config is.
    expect(loadConfig(file, 'src-a').direction).toBe('lower');
  });

  it('answers only for its text: an edit of the YAML is read at once', () => {
    const file = configDir();
    loadConfig(file, 'src-a');
    fs.appendFileSync(file, 'goal: faster startup\n');
    expect(loadConfig(file, 'src-a').goal).toBe('faster startup');
    expect(sealedOf(file).config?.goal).toBe('faster startup');
  });
});
