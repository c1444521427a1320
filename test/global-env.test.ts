// The suite's own environment (test/global-env.ts): a suite started from a git
// hook or `git bisect run` inherits GIT_DIR and friends, which would send every
// test's git commands to the project's own repository.
import { describe, expect, it } from 'vitest';
import setup, { gitRepoVars } from './global-env.ts';

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
});
