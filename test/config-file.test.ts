// config.yaml and its parsed copy (config.parsed.json): the copy spares every
// engine call the YAML parser, and must never hide an edit or let through what
// the YAML would not.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parsedConfigFile, saveConfig } from '../scripts/lib/config.ts';
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
