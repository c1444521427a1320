// The in-process blob id (recheck's comparison) must be exactly git's.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobIdOf, blobIdOfFile } from '../scripts/lib/blob-id.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-blobid-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function gitHash(file: string, format: 'sha1' | 'sha256'): string {
  const repo = path.join(dir, `repo-${format}`);
  if (!fs.existsSync(repo)) spawnSync('git', ['init', '-q', `--object-format=${format}`, repo]);
  const r = spawnSync('git', ['hash-object', '--no-filters', file], { cwd: repo, encoding: 'utf8' });
  return r.stdout.trim();
}

describe('blob ids', () => {
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('line one\r\nline two\n')],
    ['binary', Buffer.from(Array.from({ length: 3_000_001 }, (_, i) => (i * 7919) % 256))],
  ];
  for (const format of ['sha1', 'sha256'] as const) {
    for (const [name, bytes] of cases) {
      it(`${name}, ${format}: the same id as git hash-object`, () => {
        const file = path.join(dir, `${name}.bin`);
        fs.writeFileSync(file, bytes);
        const want = gitHash(file, format);
        const hexLen = format === 'sha1' ? 40 : 64;
        expect(want).toMatch(new RegExp(`^[0-9a-f]{${hexLen}}$`));
        expect(blobIdOfFile(file, bytes.length, hexLen)).toBe(want);
        expect(blobIdOf(bytes, hexLen)).toBe(want);
      });
    }
  }

  it('a size that no longer matches, a missing file or an unknown format: null (git is asked instead)', () => {
    const file = path.join(dir, 'grown.txt');
    fs.writeFileSync(file, 'abcdef');
    expect(blobIdOfFile(file, 3, 40)).toBeNull();
    expect(blobIdOfFile(file, 9, 40)).toBeNull();
    expect(blobIdOfFile(path.join(dir, 'absent'), 0, 40)).toBeNull();
    expect(blobIdOfFile(file, 6, 32)).toBeNull();
  });
});
