// The suite's own environment (test/global-env.ts): a suite started from a git
// hook or `git bisect run` inherits GIT_DIR and friends, which would send every
// test's git commands to the project's own repository.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import setup, { gitRepoVars, pastPyenvShims } from './global-env.ts';

describe('the suite environment', () => {
  it('names git’s repository variables, as git lists them', () => {
    expect(gitRepoVars()).toEqual(expect.arrayContaining(['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY']));
  });

  it('drops them, and keeps git’s other variables', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { GIT_DIR: '/elsewhere/.git', GIT_INDEX_FILE: '/elsewhere/index', GIT_WORK_TREE: '/elsewhere', GIT_SSL_CAINFO: '/certs.pem' });
      setup();
      expect(process.env.GIT_DIR).toBeUndefined();
      expect(process.env.GIT_INDEX_FILE).toBeUndefined();
      expect(process.env.GIT_WORK_TREE).toBeUndefined();
      expect(process.env.GIT_SSL_CAINFO).toBe('/certs.pem');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('the workers have none of them, however the suite was started', () => {
    for (const v of gitRepoVars()) expect(process.env[v], v).toBeUndefined();
  });

  it('puts the version pyenv selects ahead of its shims, and leaves PATH alone without them or for the system python', () => {
    const root = '/home/u/.pyenv';
    const p = ['/bin0', `${root}/plugins/pyenv-virtualenv/shims`, `${root}/shims`, `${root}/bin`, '/usr/bin'].join(':');
    const past = pastPyenvShims(p, root, `${root}/versions/3.11.7`);
    expect(past).toBe(['/bin0', `${root}/versions/3.11.7/bin`, `${root}/plugins/pyenv-virtualenv/shims`, `${root}/shims`, `${root}/bin`, '/usr/bin'].join(':'));
    expect(pastPyenvShims(past, root, `${root}/versions/3.11.7`)).toBe(past);
    expect(pastPyenvShims(p, root, `${root}/versions/3.12.1:${root}/versions/2.7.18`)).toContain(`/bin0:${root}/versions/3.12.1/bin:${root}/versions/2.7.18/bin:${root}/plugins`);
    expect(pastPyenvShims(p, root, '/usr')).toBe(p);
    expect(pastPyenvShims('/bin0:/usr/bin', root, `${root}/versions/3.11.7`)).toBe('/bin0:/usr/bin');
  });

  it('the workers start python3 without going through pyenv’s shims', () => {
    const first = (process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'python3')).find((f) => fs.existsSync(f));
    const root = process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv');
    if (first) expect(path.dirname(first)).not.toBe(path.join(root, 'shims'));
  });
});
