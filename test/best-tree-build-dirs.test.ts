// Journeys round 4: the best is re-measured in a tree of its own, where the
// untracked and ignored folders of the user's tree are linked (git mode) or
// copied (snapshot mode). A build folder must not be shared: cmake refused
// the cache made for the user's tree, so every candidate's run crashed on
// the best's re-measure; make, which trusts mtimes, found the best's objects
// (built last, through the link) newer than the candidate's source and ran
// the best's binary as the candidate, so a real 2x gain was discarded as
// noise. Real engine, real make and cc, real git repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { engine, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const HANG_GUARD = { timeout: 600_000 };

/** A program printing `base` with 2% noise, so that the best is measured beside the candidate. */
const program = (base: number) => `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) { srand(getpid()); printf("METRIC v=%f\\n", ${base} * (1 + 0.02 * (rand() / (double)RAND_MAX))); return 0; }
`;

const MAKEFILE = `obj/prog: obj/work.o
\tcc -o obj/prog obj/work.o
obj/work.o: src/work.c
\tmkdir -p obj
\tcc -c -o obj/work.o src/work.c
`;

/** A cmake-like build: the cache in build/ (written once) names the source folder it was made for, and refuses another. */
const CMAKE_LIKE = `mkdir -p build
if [ -f build/CMakeCache.txt ] && [ "$(cat build/CMakeCache.txt)" != "$(pwd)" ]; then echo "CMake Error: the cache was made for $(cat build/CMakeCache.txt)" >&2; exit 1; fi
[ -f build/CMakeCache.txt ] || pwd > build/CMakeCache.txt
read -r v < src/v
awk -v v="$v" -v seed="$(od -An -N4 -tu4 /dev/urandom)" 'BEGIN { srand(seed % 2147483647); printf "METRIC v=%.6f\\n", v * (1 + 0.02 * rand()) }'
`;

const init = (repo: string, command: string) => {
  const r = engine('init-experiment', ['--name', 'b', '--metric', 'v', '--direction', 'lower', '--command', command, '--scope', 'src/**', '--timeout', '60'], repo);
  expect(r.code, r.stderr).toBe(0);
  expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
};

describe("the best's tree builds in a folder of its own", () => {
  it('keeps a real 2x gain of a make build whose objects are in an ignored obj/', HANG_GUARD, () => {
    const repo = makeRepo({ Makefile: MAKEFILE, 'src/work.c': program(100), '.gitignore': 'obj/\n' });
    init(repo, 'make -s && ./obj/prog');
    fs.writeFileSync(path.join(repo, 'src/work.c'), program(50));
    const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
    // Was: DISCARD within noise, the candidate's samples printing the best's 100.
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
    expect(run.json?.primary as number).toBeLessThan(52);
    // The user's obj/ holds the candidate's build; the best's tree has its own.
    const tree = JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/experiments/b/best.json'), 'utf8')).tree as string;
    expect(fs.lstatSync(path.join(repo, '.autoloop/experiments/b/best', tree, 'obj')).isSymbolicLink()).toBe(false);
  });

  it('re-measures the best of a cmake-like build whose folder holds a tracked .gitkeep', HANG_GUARD, () => {
    // git lists such a folder's untracked files one by one: the cache alone was linked.
    const repo = makeRepo({ 'bench.sh': CMAKE_LIKE, 'src/v': '100\n', 'build/.gitkeep': '', '.gitignore': 'build/*\n!build/.gitkeep\n' });
    init(repo, 'sh bench.sh');
    fs.writeFileSync(path.join(repo, 'src/v'), '50\n');
    const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
    expect(fs.readFileSync(path.join(repo, 'build/CMakeCache.txt'), 'utf8').trim()).toBe(fs.realpathSync(repo));
  });

  for (const git of [true, false]) {
    it(`re-measures the best of a cmake-like build in ${git ? 'git' : 'snapshot'} mode`, HANG_GUARD, () => {
      const repo = makeRepo({ 'bench.sh': CMAKE_LIKE, 'src/v': '100\n', '.gitignore': 'build/\n' }, { git });
      init(repo, 'sh bench.sh');
      fs.writeFileSync(path.join(repo, 'src/v'), '50\n');
      const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
      // Was: CRASH, re-measuring the best failed (the cache made for the user's tree), at every run.
      expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
      expect(fs.readFileSync(path.join(repo, 'build/CMakeCache.txt'), 'utf8').trim()).toBe(fs.realpathSync(repo));
    });
  }
});

/** A program printing `base` times the prebuilt vendor object's factor, with 2% noise (seeded from /dev/urandom: a pid namespace gives every run the same pid). */
const linked = (base: number) => `#include <stdio.h>
#include <stdlib.h>
double factor(void);
int main(void) { unsigned s = 0; FILE *u = fopen("/dev/urandom", "rb"); if (u) { if (fread(&s, sizeof s, 1, u) != 1) s = 1; fclose(u); } srand(s); printf("METRIC v=%f\\n", ${base} * factor() * (1 + 0.02 * (rand() / (double)RAND_MAX))); return 0; }
`;

/**
 * The vendor objects are linked, never built: the repository has no rule and no source for them.
 * Found by a wildcard (a Makefile naming vendor/lib.o makes it a judge, copied into the tree as one).
 */
const LINKS_VENDOR = `VENDOR = $(wildcard vendor/*.o)
obj/prog: obj/main.o $(VENDOR)
\tcc -o obj/prog obj/main.o $(VENDOR)
obj/main.o: src/main.c
\tmkdir -p obj
\tcc -c -o obj/main.o src/main.c
`;

/** Compile the vendor object from a source outside the repository, as a vendor's SDK ships it. */
const prebuildVendor = (repo: string) => {
  const src = path.join(tmpDir('autoloop-vendor-'), 'lib.c');
  fs.writeFileSync(src, 'double factor(void) { return 1.0; }\n');
  fs.mkdirSync(path.join(repo, 'vendor'), { recursive: true });
  const cc = spawnSync('cc', ['-c', '-o', path.join(repo, 'vendor/lib.o'), src], { encoding: 'utf8' });
  expect(cc.status, cc.stderr).toBe(0);
};

const bestTree = (repo: string) => path.join(repo, '.autoloop/experiments/b/best', JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/experiments/b/best.json'), 'utf8')).tree as string);

describe("a folder of object files only is copied into the best's tree", () => {
  for (const git of [true, false]) {
    it(`re-measures the best of a build linking prebuilt vendor objects in ${git ? 'git' : 'snapshot'} mode`, HANG_GUARD, () => {
      const repo = makeRepo({ Makefile: LINKS_VENDOR, 'src/main.c': linked(100), '.gitignore': 'obj/\nvendor/\n' }, { git });
      prebuildVendor(repo);
      // Snapshot mode has no ignored files: a build rewriting obj/ would change files outside the scope.
      init(repo, git ? 'make -s && ./obj/prog' : 'cc -o prog.$$ src/main.c vendor/*.o && ./prog.$$; s=$?; rm -f prog.$$; exit $s');
      fs.writeFileSync(path.join(repo, 'src/main.c'), linked(50));
      const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
      // Was: CRASH at every run, the best's tree's vendor/ empty ("re-measuring the best failed": undefined reference to `factor').
      expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
      expect(run.json?.primary as number).toBeLessThan(52);
      if (git) expect(fs.lstatSync(path.join(bestTree(repo), 'vendor/lib.o')).isFile()).toBe(true);
    });
  }

  it("runs the best's code in its tree though the copied objects, built from the candidate's code, are dated in the future", HANG_GUARD, () => {
    const repo = makeRepo({ Makefile: LINKS_VENDOR, 'src/main.c': linked(100), '.gitignore': 'obj/\nvendor/\n' });
    prebuildVendor(repo);
    init(repo, 'make -s && ./obj/prog');
    fs.writeFileSync(path.join(repo, 'src/main.c'), linked(50));
    // The user's obj/ now holds the candidate's build, dated an hour ahead (clock skew, an archive's dates).
    expect(spawnSync('make', ['-s'], { cwd: repo }).status).toBe(0);
    const ahead = Date.now() / 1000 + 3600;
    for (const f of ['obj/main.o', 'obj/prog']) fs.utimesSync(path.join(repo, f), ahead, ahead);
    const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
    // Without bounding the copies' mtimes: make took the candidate's main.o as newer than the best's
    // source, both arms ran the candidate's code, and the real 2x gain was discarded as noise.
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
    expect(run.json?.primary as number).toBeLessThan(52);
    expect(fs.statSync(path.join(bestTree(repo), 'obj/main.o')).mtimeMs).toBeLessThan(ahead * 1000);
  });

  it('leaves a folder of objects over the bound empty, with one note naming it', HANG_GUARD, () => {
    const repo = makeRepo({ 'bench.sh': CMAKE_LIKE.split('\n').slice(3).join('\n'), 'src/v': '100\n', '.gitignore': 'vendor/\n' });
    fs.mkdirSync(path.join(repo, 'vendor'));
    fs.writeFileSync(path.join(repo, 'vendor/lib.o'), '');
    fs.writeFileSync(path.join(repo, 'vendor/blob'), '');
    fs.truncateSync(path.join(repo, 'vendor/blob'), 300 * 1024 * 1024); // sparse: no disk used
    init(repo, 'sh bench.sh');
    fs.writeFileSync(path.join(repo, 'src/v'), '50\n');
    const run = engine('run-experiment', ['--description', 'half', '--json'], repo);
    expect(run.json, run.stdout + run.stderr).toMatchObject({ verdict: 'keep' });
    expect(run.stderr.match(/^note: build folder vendor\/ is over 256 MB.*$/gm)).toHaveLength(1);
    expect(fs.readdirSync(path.join(bestTree(repo), 'vendor'))).toEqual([]);
  });
});
