// The Bash guard as a table: command → allow / deny (and whether it claims the
// loop). @P stands for the project directory, @R for the plugin root.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeBash, type GuardContext } from '../hooks/src/bash-guard.ts';
import { canonical } from '../hooks/src/policy.ts';
import { sedEffects } from '../hooks/src/sed-script.ts';
import { destinationEffects } from '../hooks/src/dest-writers.ts';
import { scriptKind, shellCall } from '../hooks/src/shell-start.ts';

let tmp: string;
let P: string;
let R: string;
let ctx: GuardContext;

beforeAll(() => {
  tmp = canonical(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-guard-')));
  P = path.join(tmp, 'project');
  R = path.join(tmp, 'plugin');
  for (const d of ['bench', 'src', '.autoloop/experiments/speed', '.git', 'vendor/lib']) fs.mkdirSync(path.join(P, d), { recursive: true });
  for (const f of ['bench/bench.mjs', 'check.sh', 'src/a.js', '.autoloop/active.json', '.git/HEAD']) fs.writeFileSync(path.join(P, f), 'x');
  // A benchmark run by hand: its text is read, and it writes no judge.
  fs.writeFileSync(path.join(P, 'bench.sh'), '#!/bin/sh\ncd "$(dirname "$0")"\nnode bench/bench.mjs > /dev/null\n');
  fs.mkdirSync(path.join(R, 'dist'), { recursive: true });
  fs.symlinkSync(path.join(P, 'bench'), path.join(tmp, 'bench-link'));
  ctx = {
    policy: {
      projectDir: P,
      protect: ['bench/bench.mjs', 'check.sh'],
      writable: ['.autoloop/experiments/speed/program.md', '.autoloop/experiments/speed/ideas.md'],
      scope: ['src/**'],
      scratch: '.autoloop/experiments/speed/scratch',
    },
    cwd: P,
    env: { HOME: path.join(tmp, 'home'), CLAUDE_PROJECT_DIR: P, CLAUDE_PLUGIN_ROOT: R },
    pluginRoot: R,
  };
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fill = (cmd: string): string => cmd.replaceAll('@P', P).replaceAll('@R', R).replaceAll('@T', tmp);
const verdict = (cmd: string) => analyzeBash(fill(cmd), ctx);

type Row = [command: string, expected: 'allow' | 'deny'];

const gitRows: Row[] = [
  // history-moving git is the engine's
  ['git commit -am "wip"', 'deny'],
  ['git commit --amend --no-edit', 'deny'],
  ['git commit -m "fix: a && b; c"', 'deny'],
  ['git reset --hard', 'deny'],
  ['git reset --hard HEAD~1', 'deny'],
  ['git reset', 'deny'],
  ['git checkout -- src/a.js', 'deny'],
  ['git checkout main', 'deny'],
  ['git switch -c other', 'deny'],
  ['git restore src/a.js', 'deny'],
  ['git clean -fd', 'deny'],
  ['git clean -xfd', 'deny'],
  ['git stash', 'deny'],
  ['git stash pop', 'deny'],
  ['git stash push -m x', 'deny'],
  ['git rebase -i HEAD~3', 'deny'],
  ['git merge feature', 'deny'],
  ['git revert HEAD', 'deny'],
  ['git cherry-pick abc123', 'deny'],
  ['git push origin HEAD', 'deny'],
  ['git pull', 'deny'],
  ['git branch -D autoloop/speed', 'deny'],
  ['git branch -d old', 'deny'],
  ['git branch --delete old', 'deny'],
  ['git branch -f main HEAD~1', 'deny'],
  ['git tag -d v1', 'deny'],
  ['git rm bench/bench.mjs', 'deny'],
  ['git mv check.sh check2.sh', 'deny'],
  // read-only git is fine
  ['git status', 'allow'],
  ['git status --short', 'allow'],
  ['git diff', 'allow'],
  ['git diff HEAD~1 --stat', 'allow'],
  ['git log --oneline -5', 'allow'],
  ['git show HEAD', 'allow'],
  ['git blame src/a.js', 'allow'],
  ['git rev-parse HEAD', 'allow'],
  ['git ls-files', 'allow'],
  ['git stash list', 'allow'],
  ['git stash show -p', 'allow'],
  ['git clean -n', 'allow'],
  ['git clean --dry-run -d', 'allow'],
  ['git branch', 'allow'],
  ['git branch -a -v', 'allow'],
  ['git tag -l', 'allow'],
  ['git --no-pager log -3', 'allow'],
  ['git -c core.pager=cat log', 'allow'],
  ['git rm --cached src/a.js', 'allow'],
  // the same words hidden in various ways
  ['\\git reset --hard', 'deny'],
  ['"git" reset --hard', 'deny'],
  ["'git' 'reset' '--hard'", 'deny'],
  ['g""it res\\et --hard', 'deny'],
  ['/usr/bin/git reset --hard', 'deny'],
  ['git -c user.name=x commit -m x', 'deny'],
  ['git --no-pager commit -m x', 'deny'],
  ['GIT_EDITOR=true git rebase --continue', 'deny'],
  ['env GIT_EDITOR=true git commit', 'deny'],
  ['env -i PATH=/usr/bin git reset --hard', 'deny'],
  ['sudo git reset --hard', 'deny'],
  ['sudo -u root git reset --hard', 'deny'],
  ['timeout 10 git push', 'deny'],
  ['timeout -s KILL 10 git push', 'deny'],
  ['nohup git pull &', 'deny'],
  ['command git reset --hard', 'deny'],
  ['exec git checkout .', 'deny'],
  ['nice -n 5 git stash', 'deny'],
  ['command -v git', 'allow'],
  // chains, subshells and groups
  ['git status; git commit -m x', 'deny'],
  ['git diff && git reset --hard', 'deny'],
  ['false || git checkout .', 'deny'],
  ['git log | head -5; git push', 'deny'],
  ['git status & git stash', 'deny'],
  ['(cd src; git stash)', 'deny'],
  ['{ git status; git commit -m x; }', 'deny'],
  ['if git diff --quiet; then git reset --hard; fi', 'deny'],
  ['for f in a b; do git checkout $f; done', 'deny'],
  ['while true; do git pull; done', 'deny'],
  ['cd src\ngit add -A\ngit commit -m x', 'deny'],
  ['git \\\n  reset --hard', 'deny'],
  ['! git stash', 'deny'],
  // where git runs
  ['cd src && git reset --hard', 'deny'],
  ['cd @T && git reset --hard', 'allow'],
  ['cd /tmp && git clone x y && cd y && git checkout main', 'allow'],
  ['(cd @T && git reset --hard)', 'allow'],
  ['(cd @T) && git reset --hard', 'deny'],
  ['git -C @T reset --hard', 'allow'],
  ['git -C src reset --hard', 'deny'],
  ['git -C "$CLAUDE_PROJECT_DIR" commit -m x', 'deny'],
  ['git -C "$SOMEWHERE" commit -m x', 'deny'],
  // with --git-dir and no --work-tree, git takes the cwd (the project) as the work tree: reset --hard overwrites it
  ['git --git-dir=@T/other/.git reset --hard', 'deny'],
  ['git --git-dir=@T/other/.git --work-tree=@T/other reset --hard', 'allow'],
  ['git --work-tree=@T reset --hard HEAD~1', 'deny'],
  ['git --work-tree @T checkout main', 'deny'],
  ['GIT_DIR=@P/.git git -C @T reset --hard', 'deny'],
  ['export GIT_WORK_TREE=@P; git -C @T checkout -- .', 'deny'],
  ['git --work-tree=@P reset --hard', 'deny'],
  ['cd "$UNKNOWN" && git reset --hard', 'deny'],
  ['cd && git reset --hard', 'allow'],
  ['env -C @T git reset --hard', 'allow'],
  // command substitution, shells, eval, xargs, find
  ['echo "$(git reset --hard)"', 'deny'],
  ['echo `git reset --hard`', 'deny'],
  ['x=$(git stash)', 'deny'],
  ['diff <(git show HEAD:src/a.js) src/a.js', 'allow'],
  ['cat <(git stash)', 'deny'],
  ["sh -c 'git reset --hard'", 'deny'],
  ['bash -lc "cd src && git commit -am wip"', 'deny'],
  ['bash -c "git status"', 'allow'],
  ['eval "git reset --hard"', 'deny'],
  ["eval 'git' 'checkout' '.'", 'deny'],
  ['xargs git checkout < files.txt', 'deny'],
  ['git ls-files | xargs -n1 -I{} git checkout {}', 'deny'],
  ["find . -name '*.orig' -exec git checkout {} \\;", 'deny'],
  ["find . -name '*.orig' -delete", 'allow'],
  ["watch 'git stash'", 'deny'],
  ["env -S 'git reset --hard'", 'deny'],
  ["bash <<'EOF'\ngit reset --hard\nEOF", 'deny'],
  ['sh <<EOF\ncd src\ngit commit -m x\nEOF', 'deny'],
  ['bash <<< "git commit -m x"', 'deny'],
  ["cat <<'EOF'\ngit reset --hard\nEOF", 'allow'],
  ['cat <<EOF\n$(git reset --hard)\nEOF', 'deny'],
  ["cat <<'EOF'\n$(git reset --hard)\nEOF", 'allow'],
  // only mentioned, never run
  ["echo 'git reset --hard'", 'allow'],
  ['echo "git commit -m x"', 'allow'],
  ['echo "a; git reset --hard"', 'allow'],
  ['echo a\\;git reset', 'allow'],
  ['grep -rn "git reset" .', 'allow'],
  ['# git reset --hard', 'allow'],
  ['echo ok # ; git reset --hard', 'allow'],
  ["echo $'\\x3b git reset'", 'allow'],
  ['printf "%s\\n" "git push"', 'allow'],
];

const writeRows: Row[] = [
  // redirections into the judges
  ['echo x > bench/bench.mjs', 'deny'],
  ['echo x >> bench/bench.mjs', 'deny'],
  ['echo x >bench/bench.mjs', 'deny'],
  ['echo x 1> bench/bench.mjs', 'deny'],
  ['echo x &> check.sh', 'deny'],
  ['echo x >| check.sh', 'deny'],
  [': > check.sh', 'deny'],
  ['> check.sh', 'deny'],
  ['cd bench && echo > bench.mjs', 'deny'],
  ['echo x > "$CLAUDE_PROJECT_DIR/bench/bench.mjs"', 'deny'],
  ['echo x > ${CLAUDE_PROJECT_DIR}/check.sh', 'deny'],
  ['echo x > @P/bench/bench.mjs', 'deny'],
  ['echo x > ./bench/../bench/bench.mjs', 'deny'],
  ['echo x > @T/bench-link/bench.mjs', 'deny'],
  ["printf '%s' x > 'bench/bench.mjs'", 'deny'],
  ['echo x > bench/"bench.mjs"', 'deny'],
  ['echo x > bench/bench\\.mjs', 'deny'],
  ["cat > bench/bench.mjs <<'EOF'\nexport {}\nEOF", 'deny'],
  ['F=bench/bench.mjs; echo x > $F', 'deny'],
  ['export F=check.sh && rm "$F"', 'deny'],
  ['echo x > "$OUT"', 'allow'],
  ['echo x > src/a.js', 'allow'],
  ['echo x > @T/out.txt', 'allow'],
  ['npm test > /dev/null 2>&1', 'allow'],
  ['node bench/bench.mjs 2>&1 | tail -5', 'allow'],
  ['cat bench/bench.mjs', 'allow'],
  ['echo x > ~/notes.txt', 'allow'],
  ['cmd >&2', 'allow'],
  // tools that write their arguments
  ['echo x | tee bench/bench.mjs', 'deny'],
  ['echo x | tee -a /dev/null check.sh', 'deny'],
  ['echo x | tee @T/log.txt', 'allow'],
  ["sed -i 's/a/b/' bench/bench.mjs", 'deny'],
  ["sed -i.bak -e 's/a/b/' bench/bench.mjs", 'deny'],
  ["sed -Ei 's/a/b/' check.sh", 'deny'],
  ["sed --in-place 's/x/y/' check.sh", 'deny'],
  ["sed -n -i -e 's/x/y/' -e 's/z/w/' check.sh", 'deny'],
  ["sed 's/a/b/' bench/bench.mjs", 'allow'],
  ["sed -n '1,5p' check.sh", 'allow'],
  ["sed -i 's/a/b/' src/a.js", 'allow'],
  ["perl -pi -e 's/a/b/' bench/bench.mjs", 'deny'],
  ["perl -i.bak -pe 's/a/b/' check.sh", 'deny'],
  ["perl -ne 'print' bench/bench.mjs", 'allow'],
  ['cp @T/x.mjs bench/bench.mjs', 'deny'],
  ['cp @T/bench.mjs bench/', 'deny'],
  ['cp -t bench @T/bench.mjs', 'deny'],
  ['cp bench/bench.mjs @T/', 'allow'],
  ['cp -r bench @T/copy', 'allow'],
  ['mv bench/bench.mjs @T/', 'deny'],
  ['mv @T/x bench/bench.mjs', 'deny'],
  ['mv bench @T/gone', 'deny'],
  ['mv src/a.js src/b.js', 'allow'],
  ['rm bench/bench.mjs', 'deny'],
  ['rm -f -- check.sh', 'deny'],
  ['rm -rf bench', 'deny'],
  ['rm -rf .', 'deny'],
  ['rm -rf ..', 'deny'],
  ['rm -rf /', 'deny'],
  ['rm -rf bench/*', 'deny'],
  ['rm bench/*.mjs', 'deny'],
  ['rm -rf *', 'deny'],
  ['rm src/*.tmp', 'allow'],
  ['rm -rf @T/scratch', 'allow'],
  ['unlink check.sh', 'deny'],
  ['truncate -s 0 check.sh', 'deny'],
  ['dd if=/dev/zero of=bench/bench.mjs bs=1 count=1', 'deny'],
  ['dd if=bench/bench.mjs of=@T/copy', 'allow'],
  ['touch bench/bench.mjs', 'deny'],
  ['touch src/new.js', 'allow'],
  ['chmod +x check.sh', 'deny'],
  ['chmod -w bench/bench.mjs', 'deny'],
  ['chmod -R 755 bench', 'deny'],
  ['chmod +x src/a.js', 'allow'],
  ['ln -sf @T/fake.mjs bench/bench.mjs', 'deny'],
  // a link to a judge is a way to write it under another name (in the same command, or through a hard link later)
  ['ln -s bench/bench.mjs src/link.mjs', 'deny'],
  ['ln -s ../check.sh src/l; echo x > src/l', 'deny'],
  ['ln check.sh src/hard', 'deny'],
  ['cp -l check.sh src/hard', 'deny'],
  ['cp -s @P/check.sh src/x', 'deny'],
  ['ln -s .. src/up && echo x > src/up/check.sh', 'deny'],
  ['ln -s ../.autoloop src/state', 'deny'],
  ['ln -s ../bench src/b', 'deny'],
  ['ln -s ../ch* src/', 'deny'],
  ['ln -s a.js src/b.js', 'allow'],
  ['ln -s @T/data src/data', 'allow'],
  ['install -m 644 @T/x check.sh', 'deny'],
  ['curl -o check.sh http://127.0.0.1/x', 'deny'],
  ['wget -O bench/bench.mjs http://127.0.0.1/x', 'deny'],
  ['sort -o check.sh check.sh', 'deny'],
  ['patch check.sh < @T/fix.diff', 'deny'],
  // the engine's state
  ["echo '{}' > .autoloop/active.json", 'deny'],
  ['echo x >> .autoloop/experiments/speed/ledger.jsonl', 'deny'],
  ['rm -f .autoloop/experiments/speed/lock', 'deny'],
  ['rm -rf .autoloop', 'deny'],
  ['rm .autoloop/experiments/speed/*.md', 'deny'],
  ["sed -i 's/a/b/' .autoloop/experiments/speed/config.yaml", 'deny'],
  ['cp @T/c.yaml .autoloop/experiments/speed/config.yaml', 'deny'],
  ['echo "- idea" >> .autoloop/experiments/speed/ideas.md', 'allow'],
  ["cat >> .autoloop/experiments/speed/program.md <<'EOF'\n- tried x: slower\nEOF", 'allow'],
  ['cat .autoloop/experiments/speed/ledger.jsonl | tail -3', 'allow'],
  // git's own files
  ['echo x > .git/HEAD', 'deny'],
  ['rm -rf .git', 'deny'],
  // nested writes
  ['bash -c "echo x > check.sh"', 'deny'],
  ['echo "$(echo x > check.sh)"', 'deny'],
  // find removing files below a judge: the judge passes its -name test
  ['find . -name "*.mjs" -exec rm {} +', 'deny'],
  ['find bench -delete', 'deny'],
  ["find . -name 'check*' -delete", 'deny'],
  ['find . ! -name "*.js" -delete', 'deny'],
  ['find . -exec truncate -s0 {} +', 'deny'],
  ["find src -name '*.tmp' -delete", 'allow'],
  ["find . -name '*.orig' -exec rm {} +", 'allow'],
];

// In an active loop, what the guard cannot follow is refused when it may write a judge or run git (issue 11, class 7).
const blindRows: Row[] = [
  // code only known at run time, whatever its text
  ["bash -c \"$(printf 'g%s' 'it reset --hard')\"", 'deny'],
  ['sh -c "$X"', 'deny'],
  ['eval "$X"', 'deny'],
  ["eval \"$(printf 'ech%s x > chec%s' o k.sh)\"", 'deny'],
  ['$CMD reset --hard', 'deny'],
  ['"$G" reset --hard', 'deny'],
  ['`echo git` reset --hard', 'deny'],
  ['git "$SUB" --hard', 'deny'],
  ['echo reset | xargs git', 'deny'],
  ["echo 'git reset --hard' | sh", 'deny'],
  ["echo 'git reset --hard' | bash -s", 'deny'],
  ['cat @T/x | sh', 'deny'],
  ['bash <(echo git reset --hard)', 'deny'],
  ['source <(echo git reset --hard)', 'deny'],
  ["sh /dev/stdin <<< 'git reset --hard'", 'deny'],
  ['bash <<< "$CMD"', 'deny'],
  ["trap 'git reset --hard' EXIT", 'deny'],
  // wrappers and spellings it now follows
  ["env -S'git reset --hard'", 'deny'],
  ['env --split-string="git reset --hard"', 'deny'],
  ["setsid git reset --hard", 'deny'],
  ["busybox sh -c 'git reset --hard'", 'deny'],
  ["flock @T/l git reset --hard", 'deny'],
  ["flock @T/l -c 'git stash'", 'deny'],
  // watch and flock -c hand their text to sh -c: its redirections and operators count
  ["watch 'echo x > check.sh'", 'deny'],
  ["watch -d 'git stash'", 'deny'],
  ["watch echo x '>' check.sh", 'deny'],
  ['watch -n 1 echo x \\> bench/bench.mjs', 'deny'],
  ["flock @T/l -c 'echo x > check.sh'", 'deny'],
  ["flock -c 'ls; echo x >> check.sh' @T/l", 'deny'],
  ["watch -x sh -c 'echo x > check.sh'", 'deny'],
  ["watch 'echo x > src/a.js'", 'allow'],
  // a run-time path taken from a pattern the shell expands to a judge
  ['for f in check*; do echo x > $f; done', 'deny'],
  ['for f in *.sh; do echo x > "$f"; done', 'deny'],
  ['for f in bench/*; do sed -i s/a/b/ $f; done', 'deny'],
  ['for f in b*; do rm -r $f; done', 'deny'],
  ['f=$(ls check*); echo x > $f', 'deny'],
  ['for f in .autoloop/*; do echo > $f; done', 'deny'],
  ['for f in src/*; do sed -i s/a/b/ $f; done', 'allow'],
  ['for f in src/*.js; do cp $f $f.bak; done', 'allow'],
  // wrappers: a CPU mask or priority before the command; sudo -D and chroot move where paths lead
  ['taskset 1 cp src/a.js check.sh', 'deny'],
  ['taskset -c 0 git reset --hard', 'deny'],
  ['chrt -i 0 cp src/a.js check.sh', 'deny'],
  ['unshare -r cp src/a.js check.sh', 'deny'],
  ["sudo -D @P/src sh -c 'echo > ../check.sh'", 'deny'],
  ['sudo --chdir=@P/src cp a.js ../check.sh', 'deny'],
  ['sudo -D@P/src cp a.js ../check.sh', 'deny'],
  ["chroot @P sh -c 'echo > /check.sh'", 'deny'],
  ['taskset 1 cp src/a.js src/b.js', 'allow'],
  ['sudo -D @P/src cp a.js b.js', 'allow'],
  // a `..` after a link steps out of where the link leads (@T/bench-link -> @P/bench), as the kernel takes it
  ['echo x > @T/bench-link/../check.sh', 'deny'],
  ['cp src/a.js @T/bench-link/../check.sh', 'deny'],
  ['cd @T/bench-link && echo x > ../check.sh', 'deny'],
  ['echo x > @T/bench-link/../src/a.js', 'allow'],
  // git's global and system configuration: what `git config --global` would change
  ["echo '[core] fsmonitor = x' >> ~/.gitconfig", 'deny'],
  ['cp src/a.js $HOME/.config/git/config', 'deny'],
  ['sed -i s/a/b/ @T/home/.gitconfig', 'deny'],
  ['echo x > ~/.gitconf*', 'deny'],
  ['mv @T/cfg @T/home/.config', 'deny'],
  ['echo x > /etc/gitconfig', 'deny'],
  ['echo x > ~/notes.txt', 'allow'],
  ['cat ~/.gitconfig', 'allow'],
  ['echo check.sh | xargs rm', 'deny'],
  ["printf 'check.sh' | xargs truncate -s0", 'deny'],
  // inline programs that name a judge or start processes
  ["node -e \"require('fs').writeFileSync('bench/bench.mjs','')\"", 'deny'],
  ["python3 -c \"open('check.sh','w').write('')\"", 'deny'],
  ["node -e \"require('child_process').execSync('g'+'it reset --hard')\"", 'deny'],
  ["python3 -c \"import os; os.system('gi'+'t commit -am x')\"", 'deny'],
  ["perl -e 'unlink \"check.sh\"'", 'deny'],
  // the same programs on an interpreter's input, under a versioned name, or in a cluster
  ["python3 <<< \"open('check.sh','w')\"", 'deny'],
  ["python3 - <<< \"open('check.sh','w')\"", 'deny'],
  ["echo \"open('bench/bench.mjs','w')\" | python3", 'deny'],
  ["python3 -u <<'EOF'\nopen('check.sh', 'w')\nEOF", 'deny'],
  ["echo \"require('fs').writeFileSync('check.sh','')\" | node", 'deny'],
  ["node - <<< \"require('child_process').execSync('g'+'it stash')\"", 'deny'],
  ["echo 'unlink \"check.sh\"' | perl", 'deny'],
  ["echo 'File.write(\"check.sh\", \"\")' | ruby", 'deny'],
  ["python3.12 -c \"open('check.sh','w')\"", 'deny'],
  ["pypy3 -c \"open('check.sh','w')\"", 'deny'],
  ["node -pe \"require('fs').writeFileSync('check.sh','')\"", 'deny'],
  ["python3 <<< 'print(2)'", 'allow'],
  ["echo 'console.log(1)' | node", 'allow'],
  ["node -pe 1+1", 'allow'],
  ["python3 -m json.tool check.sh", 'allow'],
  ["awk 'BEGIN{system(\"git reset --hard\")}'", 'deny'],
  ["awk 'BEGIN{print \"\" > \"check.sh\"}'", 'deny'],
  // git that moves HEAD, rewrites the index or the tree, or changes what the engine's git runs
  ["git -c alias.x='!rm check.sh' x", 'deny'],
  ["git config alias.x 'reset --hard'", 'deny'],
  ['git config core.hooksPath @T', 'deny'],
  ['git symbolic-ref HEAD refs/heads/main', 'deny'],
  ['git read-tree HEAD', 'deny'],
  ['git checkout-index -f -a', 'deny'],
  ['git update-index --assume-unchanged src/a.js', 'deny'],
  ['git apply @T/p.diff', 'deny'],
  ['git worktree add @T/w', 'deny'],
  ['git fast-import', 'deny'],
  // …and what stays allowed
  ['git config --get user.name', 'allow'],
  ['git config -l', 'allow'],
  ['git apply --check @T/p.diff', 'allow'],
  ['git worktree list', 'allow'],
  ["node -e 'console.log(1 + 1)'", 'allow'],
  ["python3 -c 'import json; print(json.dumps([1]))'", 'allow'],
  ["perl -ne 'print' bench/bench.mjs", 'allow'],
  ["awk '{print $1}' bench/bench.mjs", 'allow'],
  ["git ls-files | xargs grep -n TODO", 'allow'],
  ["find . -name '*.orig' | xargs rm", 'allow'],
  ['bash bench.sh', 'allow'],
];

describe('bash guard: git', () => {
  it.each(gitRows)('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    if (v.deny) expect(v.deny).toMatch(/engine owns git|protected/);
  });
});

describe('bash guard: writes', () => {
  it.each(writeRows)('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
  });

  it('names the file and what to do instead', () => {
    expect(verdict('echo x > bench/bench.mjs').deny).toMatch(/bench\/bench\.mjs is protected.*Improve the code in scope/);
    expect(verdict('rm .autoloop/active.json').deny).toMatch(/belongs to the engine.*program\.md/);
    expect(verdict('git reset --hard').deny).toMatch(/the engine commits a keep and reverts/);
  });
});

describe('bash guard: fails closed', () => {
  it.each(blindRows)('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    if (v.deny) expect(v.deny).toMatch(/^autoloop: /);
  });
});

describe('bash guard: the engine', () => {
  const rows: [string, 'allow' | 'deny', boolean][] = [
    ['node @R/dist/run-experiment.mjs', 'allow', true],
    ['node "$CLAUDE_PLUGIN_ROOT/dist/log-experiment.mjs" --description "x" > @T/log.txt 2>&1', 'allow', true],
    ['node @R/dist/init-experiment.mjs --name speed --metric time_ms', 'allow', true],
    ['cd src && node @R/dist/run-experiment.mjs | tail -20', 'allow', true],
    ['git status && node @R/dist/run-experiment.mjs', 'allow', true],
    ['npx tsx @R/scripts/init-experiment.ts --name x', 'allow', true],
    ['node --enable-source-maps @R/dist/chain.mjs 3', 'allow', true],
    ['node @R/dist/status.mjs', 'allow', false],
    ['node @R/dist/control.mjs stop', 'allow', false],
    ['cat @R/scripts/run-experiment.ts', 'allow', false],
    ["node -e 'require(\"fs\")' run-experiment.mjs", 'allow', false],
    ['grep run-experiment.mjs README.md', 'allow', false],
    ['node @R/dist/log-experiment.mjs > .autoloop/active.json', 'deny', true],
    ['node @R/dist/log-experiment.mjs && git commit -m x', 'deny', true],
  ];
  it.each(rows)('%j → %s (claims: %s)', (cmd, expected, claims) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    expect(v.claims).toBe(claims);
  });
});

describe('bash guard: robustness', () => {
  it('survives malformed input', () => {
    for (const cmd of ['"unterminated', "'open", 'echo $(', 'echo ${', 'a <<', '((', ')))', '`', 'cat <<EOF\nno end', '$', '\\']) {
      expect(() => verdict(cmd)).not.toThrow();
    }
  });

  it('a command named like an Object.prototype member (valueOf, constructor, __proto__) is judged, not thrown on', () => {
    for (const name of ['valueOf', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      for (const cmd of [`${name} $`, `${name} x`, `echo a | xargs ${name}`]) expect(() => analyzeBash(cmd, ctx), cmd).not.toThrow();
    }
  });

  it('never throws or hangs, whatever the input', () => {
    const shellish = fc.string({ unit: fc.constantFrom(...'ab $(){}[]<>|&;\'"`\\\n#*?~=-/.:,0129EOFgitresetcdrm'.split('')), maxLength: 80 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), shellish), (cmd) => {
        const v = analyzeBash(cmd, ctx);
        expect(v.deny === null || typeof v.deny === 'string').toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('decides on a long command (2,000 parts, each with a substitution)', () => {
    const cmd = Array.from({ length: 2000 }, (_, i) => `echo ${i} "$(printf x)" > @T/f${i}`).join(' && ');
    const v = verdict(cmd);
    expect(v.deny).toBeNull();
    expect(v.safe).toBe(false); // writes outside the scratch area
    expect(verdict(cmd.replaceAll('@T/f', '.autoloop/experiments/speed/scratch/f')).safe).toBe(true);
  });
});

// The allow list: what the hook approves without asking (references/permissions.md).
const safeRows: Array<[command: string, safe: boolean]> = [
  // the engine, exactly as the protocol writes it
  ['node "@R/dist/status.mjs"', true],
  ['node @R/dist/run-experiment.mjs --json', true],
  ['node "@R/dist/log-experiment.mjs" --description "cache the table" --hypothesis "h" --json 2>&1 | tail -20', true],
  ['node "@R/dist/control.mjs" explain', true],
  ['node "@R/dist/chain.mjs" --from speed --name speed-2 --goal g --rationale r --json', true],
  ['node "@R/dist/finalize.mjs" --json', true],
  ['node "@R/dist/diagnose.mjs" --profile node-cpu --json', true],
  ['npx tsx @R/scripts/status.ts', true],
  ['cd @P && node "@R/dist/report.mjs"', true],
  ['time node "@R/dist/diagnose.mjs"', true],
  // …and what stays with the user
  ['node "@R/dist/init-experiment.mjs" --name x --metric m --direction lower --command "echo"', false],
  ['node "@R/dist/chain.mjs" --from speed --name s2 --rationale r --command "echo METRIC m=1"', false],
  ['node "@R/dist/chain.mjs" --from speed --name s2 --rationale r --checks=none', false],
  ['node "@R/dist/status.mjs" --cwd /tmp', false],
  ['node "@R/dist/dashboard.mjs" --html /tmp/x.html', false],
  ['node -e "require(\'fs\').writeFileSync(\'bench/bench.mjs\', \'\')"', false],
  ['node --import ./evil.mjs "@R/dist/status.mjs"', false],
  ['NODE_OPTIONS=--require=./evil.js node "@R/dist/status.mjs"', false],
  ['PATH=.:$PATH node "@R/dist/status.mjs"', false],
  ['env node "@R/dist/status.mjs"', false],
  ['./node "@R/dist/status.mjs"', false],
  ['node @T/other/dist/status.mjs', false],
  ['node "@R/dist/run-experiment.mjs" &', false],
  ['node bench/bench.mjs', false],
  ['bash bench.sh', false],
  ['rg --pre=cat x src', false],
  ['rg --hostname-bin=hostname x src', false],
  ['sort --compress-program=gzip src/a.js', false],
  ['git grep -O x', false],
  ['git grep -nO/bin/true x', false],
  ['git grep -n x', true],
  ['python3 -m cProfile -o .autoloop/experiments/speed/scratch/p.out src/a.py', false],
  ['curl -s https://example.com', false],
  ['rm -rf src', false],
  // read-only commands on files in the repository (or the plugin)
  ['git status --short', true],
  ['git diff --stat HEAD~1', true],
  ['git log --oneline -5', true],
  ['git show HEAD:src/a.js | head -40', true],
  ['git --no-pager log -1', true],
  ['git branch --show-current', true],
  ['git stash list', true],
  ['git diff --output=/tmp/x', false],
  ['git -c core.pager=sh log', false],
  ['git branch -D other', false],
  ['git fetch', false],
  ['grep -rn "parse(" src | head -20', true],
  ['grep -c x /etc/passwd', false],
  ['cat src/a.js', true],
  ['head -n 40 .autoloop/experiments/speed/runs/r0003/output.log', true],
  ['tail -n 40 @R/references/protocol.md', true],
  ['wc -l src/*.js', true],
  ['ls -la src', true],
  ['find src -name "*.js"', true],
  ['find src -name "*.js" -delete', false],
  ['find src -exec rm {} ;', false],
  ['sort src/a.js | uniq -c | sort -rn | head', true],
  ['sort -o src/a.js src/a.js', false],
  ['cat $FILE', false],
  ['cat ~/.ssh/id_rsa', false],
  ['echo hello && pwd', true],
  ['cd /tmp && ls', false],
  ['sed -n 1,20p src/a.js', false],
  ['awk "{print}" src/a.js', false],
  ['xargs cat < src/a.js', false],
  // the scratch area and the notes
  ['mkdir -p .autoloop/experiments/speed/scratch', true],
  ['grep -n hot src/a.js > .autoloop/experiments/speed/scratch/hot.txt', true],
  ['echo "- tried x" >> .autoloop/experiments/speed/ideas.md', true],
  ['rm -f .autoloop/experiments/speed/scratch/old.prof', true],
  ['rm -f .autoloop/experiments/speed/ideas.md', false],
  ['echo x > src/a.js', false],
  ['echo x > .autoloop/experiments/speed/config.yaml', false],
  ['ls > /dev/null 2>&1', true],
  ['cat src/a.js < src/a.js', true],
  // printf -v sets a variable: PATH=src makes the next `cat` the model's own src/cat
  ['printf "%s\\n" -v', true],
  ['printf -- -v', true],
  ['printf -v PATH %s src; cat src/a.js', false],
  ['printf -vPATH %s src; cat src/a.js', false],
  ['o=-v; printf $o PATH %s src; cat src/a.js', false],
  ['printf -v "a[i+1]" x', false],
];

describe('bash guard: the allow list', () => {
  it.each(safeRows)('%s → safe: %s', (cmd, safe) => {
    const v = verdict(cmd);
    expect(v.safe).toBe(safe);
    if (safe) expect(v.deny).toBeNull();
  });

  it('with CDPATH set, a relative cd may land elsewhere: what follows is not approved, and hand-made git is still denied', () => {
    const withCdpath = { ...ctx, env: { ...ctx.env, CDPATH: tmp } };
    expect(analyzeBash('cd src && cat a.js', ctx).safe).toBe(true);
    expect(analyzeBash('cd src && cat a.js', withCdpath).safe).toBe(false);
    expect(analyzeBash('cd ./src && cat a.js', withCdpath).safe).toBe(true);
    expect(analyzeBash(fill('cd @P/src && cat a.js'), withCdpath).safe).toBe(true);
    expect(analyzeBash('cd src && git reset --hard', withCdpath).deny).toMatch(/git reset/);
  });

  it("a reader named by its path is approved only from the system's directories (src/cat may be any program)", () => {
    fs.mkdirSync(path.join(tmp, 'bin'), { recursive: true });
    const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (const f of [path.join(P, 'src', 'cat'), path.join(tmp, 'bin', 'cat'), path.join(tmp, 'bin', 'git')]) fs.writeFileSync(f, elf, { mode: 0o755 });
    try {
      for (const cmd of ['src/cat src/a.js', '@P/src/cat src/a.js', './src/cat src/a.js', '@T/bin/cat src/a.js', '/usr/bin/../..@T/bin/cat src/a.js', '@T/bin/git log']) {
        expect([cmd, verdict(cmd).safe]).toEqual([cmd, false]);
      }
      for (const cmd of ['/bin/cat src/a.js', '/usr/bin/git log', 'cat src/a.js']) expect([cmd, verdict(cmd).safe]).toEqual([cmd, true]);
    } finally {
      fs.rmSync(path.join(P, 'src', 'cat'));
      fs.rmSync(path.join(tmp, 'bin'), { recursive: true });
    }
  });

  it('approves no engine call when the plugin root is unknown', () => {
    expect(analyzeBash(fill('node "@R/dist/status.mjs"'), { ...ctx, pluginRoot: null }).safe).toBe(false);
  });

  it('records which engine scripts a command runs', () => {
    expect(verdict('node "@R/dist/run-experiment.mjs" --json && node "@R/dist/log-experiment.mjs" --json').engines).toEqual(['run-experiment', 'log-experiment']);
    expect(verdict('node "@R/dist/status.mjs"').engines).toEqual(['status']);
    expect(verdict('grep run-experiment.mjs README.md').engines).toEqual([]);
  });
});

describe('bash guard: fails closed on what it cannot analyse', () => {
  const deep = (inner: string, n: number): string => Array.from({ length: n }).reduce<string>((acc) => `sh -c ${JSON.stringify(acc)}`, inner);

  it.each([
    ['nesting too deep, writing a judge', deep('echo x > bench/bench.mjs', 12)],
    ['nesting too deep, running git', deep('git reset --hard', 12)],
    ['an open quote that hides a git command', 'echo "x; git reset --hard'],
    ['an open quote around a judge', "echo 'x > check.sh"],
    ['a shell running a script from a variable that mentions git', 'sh -c "$CMD" # git'],
    ['eval of run-time text that mentions the engine state', 'eval "$X" # .autoloop/active.json'],
  ])('%s: denied with a reason', (_name, cmd) => {
    const v = verdict(cmd);
    expect(v.deny).toMatch(/cannot check this command/);
    expect(v.unsure).not.toBeNull();
    expect(v.safe).toBe(false);
  });

  it.each([
    ['deep nesting that touches nothing guarded', deep('echo hello', 12)],
    ['an open quote in harmless text', 'echo "it is fine'],
    ["a heredoc with an apostrophe, into the scratch area", "cat > .autoloop/experiments/speed/scratch/a.py <<'EOF'\nprint('don't')\nEOF"],
  ])('%s: not denied', (_name, cmd) => {
    expect(verdict(cmd).deny).toBeNull();
  });
});

// Holes once left to the user's own permission settings (issue 11, class 7): code
// read from a file, writers with a destination, sed's own writes, git aliases.
describe('bash guard: code from files, writers with a destination, sed scripts, git aliases', () => {
  beforeAll(() => {
    const put = (rel: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
      fs.writeFileSync(path.join(tmp, rel), text);
    };
    put('evil.sh', 'git reset --hard\n');
    put('harm.sh', 'echo x > check.sh\n');
    put('rel.sh', 'echo x > ../check.sh\n');
    put('nested.sh', `. ${path.join(tmp, 'evil.sh')}\n`);
    put('ok.sh', 'export OK=1\necho "ready"\n');
    put('lib.sh', 'greet() {\n  printf "hello %s\\n" "${1:-you}"\n}\nlib_dir=$(cd "$(dirname "$0")" && pwd)\n');
    put('open.sh', 'echo "x; git reset --hard\n');
    // A virtual environment's activate script, in our own words: functions, PATH, the prompt.
    put(
      'project/.venv/bin/activate',
      [
        'deactivate () {',
        '  if [ -n "${_OLD_PATH:-}" ]; then PATH="$_OLD_PATH"; export PATH; unset _OLD_PATH; fi',
        '  hash -r 2> /dev/null',
        '  if [ ! "${1:-}" = "nondestructive" ]; then unset -f deactivate; fi',
        '}',
        'deactivate nondestructive',
        'VIRTUAL_ENV="/work/project/.venv"',
        'case "$(uname)" in CYGWIN*|MSYS*) VIRTUAL_ENV=$(cygpath "$VIRTUAL_ENV") ;; esac',
        'export VIRTUAL_ENV',
        '_OLD_PATH="$PATH"',
        'PATH="$VIRTUAL_ENV/bin:$PATH"',
        'export PATH',
        'PS1="(.venv) ${PS1:-}"',
        'hash -r 2> /dev/null',
        '',
      ].join('\n'),
    );
    put('w.sed', 's/a/b/\nw check.sh\n');
    put('p.sed', 's/a/b/g\np\n');
    put('judge.diff', '--- a/check.sh\n+++ b/check.sh\n@@ -1 +1 @@\n-x\n+exit 0\n');
    put('src.diff', '--- a/src/a.js\n+++ b/src/a.js\n@@ -1 +1 @@\n-x\n+y\n');
    // git reads these aliases from $HOME/.gitconfig (the guard's env has HOME under tmp).
    put(
      'home/.gitconfig',
      [
        '[alias]',
        '  co = checkout',
        '  nest = co',
        '  st = status --short',
        '  lol = log --oneline',
        "  x = \"!sh -c 'git reset --hard'\"",
        '  rmj = "!rm check.sh"',
        '  hi = "!echo hi"',
        '  loop1 = loop2',
        '  loop2 = loop1',
        '',
      ].join('\n'),
    );
  });

  type Case = [command: string, expected: 'allow' | 'deny', reason?: RegExp];
  const unsure = /cannot check this command/;
  const judge = /is protected/;
  const cases: Case[] = [
    // 1. `. file` / `source file`: the file's current text is judged as part of the command
    ['. @T/evil.sh', 'deny', /engine owns git/],
    ['source @T/harm.sh', 'deny', /check\.sh is protected/],
    ['cd src && . @T/rel.sh', 'deny', judge],
    ['source @T/nested.sh', 'deny', /engine owns git/],
    ['source @T/missing.sh', 'deny', /sources @T\/missing\.sh, which the guard cannot read/],
    ['. @T', 'deny', unsure],
    ["echo 'git stash' > @T/ok.sh; . @T/ok.sh", 'deny', /which the same command writes/],
    ['for i in 1 2; do . @T/ok.sh; cp @T/evil.sh @T/ok.sh; done', 'deny', /which the same command writes/],
    ['echo x > "$OUT"; . @T/ok.sh', 'deny', /which the same command may write/],
    ['. .venv/bin/activate && node bench/bench.mjs > "$LOG"', 'allow'],
    ['source @T/open.sh', 'deny', unsure],
    ['source .venv/bin/activate', 'allow'],
    ['. .venv/bin/activate && node bench/bench.mjs', 'allow'],
    ['source @T/ok.sh && echo "$OK"', 'allow'],
    ['. @T/lib.sh && greet me', 'allow'],
    // 2. writers that take a destination
    ['tar -xf @T/a.tar', 'deny', judge],
    ['tar xzf @T/a.tgz -C bench', 'deny', judge],
    ['tar -C @P -xf @T/a.tar', 'deny', judge],
    ['tar --extract --file=@T/a.tar --directory=.autoloop', 'deny', /belongs to the engine/],
    ['tar -xf @T/a.tar bench/bench.mjs', 'deny', judge],
    ['tar -xPf @T/a.tar', 'deny', unsure],
    ['tar -czf check.sh src', 'deny', judge],
    ["tar -xf @T/a.tar -C src --to-command='git stash'", 'deny', /engine owns git/],
    ['tar -xf @T/a.tar -C src', 'allow'],
    ['tar -xf @T/a.tar src/a.js', 'allow'],
    ['tar -xOf @T/a.tar bench/bench.mjs', 'allow'],
    ['tar -tzf @T/a.tgz', 'allow'],
    ['tar -czf @T/out.tgz src bench', 'allow'],
    ['tar -xf @T/a.tar -C @T/out', 'allow'],
    ['jar xf @T/a.jar', 'deny', judge],
    ['7z x @T/a.7z -obench', 'deny', judge],
    ['7z l @T/a.7z', 'allow'],
    ['7z x @T/a.7z -o@T/out', 'allow'],
    ['unzip -o @T/a.zip', 'deny', judge],
    ['unzip @T/a.zip -d bench', 'deny', judge],
    ['unzip -o @T/a.zip check.sh', 'deny', judge],
    ['unzip @T/a.zip -x src/a.js -d .', 'deny', judge],
    ['unzip -q @T/a.zip -d src/vendor', 'allow'],
    ['unzip -l @T/a.zip', 'allow'],
    ['unzip -p @T/a.zip check.sh', 'allow'],
    ['unzip @T/a.zip src/x.js -x check.sh', 'allow'],
    ['cpio -idv < @T/a.cpio', 'deny', judge],
    ['find src | cpio -pdm bench', 'deny', judge],
    ['cd src && cpio -id < @T/a.cpio', 'allow'],
    ['find src | cpio -o > @T/a.cpio', 'allow'],
    ['rsync -a @T/evil/ bench/', 'deny', judge],
    ['rsync -a @T/bench .', 'deny', judge],
    ['rsync -a @T/evil/ .', 'deny', judge],
    ['rsync @T/x.mjs bench/bench.mjs', 'deny', judge],
    ['rsync -a --delete @T/lib/ src/', 'allow'],
    ['rsync -a src/ @T/backup/', 'allow'],
    ['rsync -av bench/ host:backup/', 'allow'],
    ['install -D @T/x bench/bench.mjs', 'deny', judge],
    ['install -m 755 -t bench @T/bench.mjs', 'deny', judge],
    ['install @T/x src/x.js', 'allow'],
    ['ln -sf @T/evil/* bench/', 'deny', judge],
    ['ln -sfn @T/evil src/link', 'allow'],
    ['cp -r @T/bench .', 'deny', judge],
    ['cp -r @T/evil/. bench', 'deny', judge],
    ['cp -rT @T/evil bench', 'deny', judge],
    ['cp @T/evil/* bench/', 'deny', judge],
    ['cp -a @T/evil/. .', 'deny', judge],
    ['cp -r @T/lib src/', 'allow'],
    ['cp @T/x/*.js src/', 'allow'],
    ['cp src/*.js .', 'allow'],
    ['cp @T/evil/*.sh .', 'deny', judge],
    ['cp -r @T/evil/* .', 'deny', judge],
    ['cp "$F" bench/', 'deny', judge],
    ['cp -r src @T/snap', 'allow'],
    ['mv @T/evil/* bench/', 'deny', judge],
    ['mv @T/new.js src/', 'allow'],
    ['patch -p1 < @T/judge.diff', 'deny', judge],
    ['patch -p1 -i @T/judge.diff', 'deny', judge],
    ['patch < @T/judge.diff', 'deny', judge],
    ["patch -p1 <<'EOF'\n--- a/bench/bench.mjs\n+++ b/bench/bench.mjs\n@@ -1 +1 @@\n-x\n+y\nEOF", 'deny', judge],
    ['git diff | patch -p1 -R', 'deny', unsure],
    ['patch -p1 < @T/src.diff', 'allow'],
    ['patch -p1 --dry-run < @T/judge.diff', 'allow'],
    ['patch -p1 -o @T/out.js < @T/judge.diff', 'allow'],
    ['gzip check.sh', 'deny', judge],
    ['gunzip bench/bench.mjs.gz', 'deny', judge],
    ['gzip -r bench', 'deny', judge],
    ['gzip -c check.sh > @T/c.gz', 'allow'],
    ['gzip -k src/a.js', 'allow'],
    ['git diff --output=check.sh', 'deny', judge],
    ['git diff --output=@T/d.txt', 'allow'],
    // 3. sed's own writes and commands
    ["sed -n 'w check.sh' src/a.js", 'deny', judge],
    ["sed 's/a/b/w bench/bench.mjs' src/a.js", 'deny', judge],
    ["sed -e 's/a/b/gw check.sh' src/a.js", 'deny', judge],
    ["sed '/x/W check.sh' src/a.js", 'deny', judge],
    ["sed -n '1p;w check.sh' src/a.js", 'deny', judge],
    ["sed -ne 's/a/b/' -e '$w check.sh' src/a.js", 'deny', judge],
    ['sed -f @T/w.sed src/a.js', 'deny', judge],
    ["sed 'e git reset --hard' src/a.js", 'deny', /engine owns git/],
    ["sed 's/.*/date/e' src/a.js", 'deny', unsure],
    ["sed '1e' src/a.js", 'deny', unsure],
    ['sed -f - src/a.js', 'deny', unsure],
    ["sed \"$S\" check.sh > @T/o", 'deny', unsure],
    ["sed -n 'w @T/out.txt' src/a.js", 'allow'],
    ["sed 's/a/b/w /dev/stdout' src/a.js", 'allow'],
    ["sed -n '/start/,/end/p' check.sh", 'allow'],
    ["sed 's|a/b|c;d|g' check.sh", 'allow'],
    ["sed 'y/abc/xyz/;s/w/W/' check.sh", 'allow'],
    ["sed -n '/w check.sh/p' src/a.js", 'allow'],
    ["sed -n \"${N}p\" src/a.js", 'allow'],
    ["sed --sandbox 's/x/y/w check.sh' src/a.js", 'allow'],
    ['sed -f @T/p.sed src/a.js', 'allow'],
    ["sed -i '/^$/d' src/a.js", 'allow'],
    // 4. git aliases, read as git reads them ($HOME/.gitconfig here)
    ['git co main', 'deny', /"git checkout"/],
    ['git -C src co .', 'deny', /"git checkout"/],
    ['git nest main', 'deny', /"git checkout"/],
    ['git x', 'deny', /engine owns git/],
    ['git rmj', 'deny', judge],
    ['cd src && git rmj', 'deny', judge],
    ['git frobnicate', 'deny', /"git frobnicate" does \(it is neither a git command nor an alias\)/],
    ['git loop1', 'deny', /nest too deeply/],
    ['GIT_CONFIG_GLOBAL=@T/other.cfg git lol', 'deny', /changes where git reads its configuration/],
    ['git -c include.path=@T/x.cfg lol', 'deny', /changes where git reads its configuration/],
    ['git "$(echo co)" main', 'deny', unsure],
    ['git lol -5', 'allow'],
    ['git st', 'allow'],
    ['git hi', 'allow'],
    ['git -C @T frobnicate', 'allow'],
  ];

  it.each(cases)('%j → %s', (cmd, expected, reason) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    if (reason) expect(v.deny).toMatch(new RegExp(reason.source.replaceAll('@T', tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))));
    // None of these is on the allow list: what is not denied is left to the user.
    if (!['git lol -5', 'git st'].includes(cmd)) expect(v.safe).toBe(false);
  });

  it('never throws or hangs on any sed script or destination writer arguments', () => {
    const text = fc.string({ unit: fc.constantFrom(...'swWeyrRaic{}!;,/\\|[]^:.=$0129 \n\tpgxb#'.split('')), maxLength: 60 });
    fc.assert(
      fc.property(text, (script) => {
        const fx = sedEffects(script);
        expect(Array.isArray(fx.writes)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    const word = fc.string({ unit: fc.constantFrom(...'-xcftCdoOPrRaT/.*bench'.split('')), maxLength: 8 });
    const progs = ['tar', 'unzip', 'cpio', 'rsync', 'gzip', 'gunzip', '7z', 'jar'];
    fc.assert(
      fc.property(fc.constantFrom(...progs), fc.array(word, { maxLength: 6 }), (prog, args) => {
        const fx = destinationEffects(prog, args.map((t) => ({ text: t, dynamic: false, glob: false, assign: null })));
        expect(fx).not.toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it('reads an alias only for a subcommand git does not have built in, and never starts git for the engine calls', () => {
    let asked = 0;
    const io = { readScript: () => null, fileHead: () => null, gitAlias: () => (asked++, 'checkout'), gitProgram: () => false };
    analyzeBash('git status && git log && git commit -m x', { ...ctx, io });
    expect(asked).toBe(0);
    expect(analyzeBash('git co', { ...ctx, io }).deny).toMatch(/"git checkout"/);
    expect(asked).toBe(1);
    // A git-<name> program runs before any alias of that name: it is not judged by the alias.
    expect(analyzeBash('git co', { ...ctx, io: { ...io, gitProgram: () => true } }).deny).toMatch(/runs the program git-co/);
  });
});

// Scripts a new shell runs, start-up files, and variables that make a shell run
// code (issue 11, class 7): the script's current text is judged as part of the command.
describe('bash guard: scripts run by a shell, start-up files and code variables', () => {
  beforeAll(() => {
    const put = (rel: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
      fs.writeFileSync(path.join(tmp, rel), text, { mode: 0o755 });
    };
    put('run/evil.sh', 'git reset --hard\n');
    put('run/harm.sh', 'echo x > check.sh\n');
    put('run/ok.sh', 'echo "ready"\n');
    put('run/exe-harm', '#!/usr/bin/env bash\nrm -f check.sh\n');
    put('run/plain-harm', 'cp /dev/null bench/bench.mjs\n'); // no #! line: the calling shell runs it
    put('run/py-harm', '#!/usr/bin/env python3\nopen("check.sh", "w")\n');
    put('run/calls.sh', `bash ${path.join(tmp, 'run/harm.sh')}\n`);
    put('run/self.sh', `bash ${path.join(tmp, 'run/self.sh')}\necho git\n`);
    put('run/big.sh', '# pad\n'.repeat(12_000));
    put('run/cd.sh', 'cd src\necho x > check.sh\n');
    put('run/fan.sh', `. ${path.join(tmp, 'run/ok.sh')}\n`.repeat(40));
    put('zd/.zshenv', 'git stash\n');
  });

  type Case = [command: string, expected: 'allow' | 'deny', reason?: RegExp];
  const unsure = /cannot check this command/;
  const judge = /is protected/;
  const git = /engine owns git/;
  const cases: Case[] = [
    // a script file a shell runs, in any spelling
    ['bash @T/run/evil.sh', 'deny', git],
    ['sh @T/run/harm.sh', 'deny', judge],
    ['dash @T/run/harm.sh arg1 arg2', 'deny', judge],
    ['zsh @T/run/harm.sh', 'deny', judge],
    ['bash -- @T/run/harm.sh', 'deny', judge],
    ['bash -e -o pipefail @T/run/harm.sh', 'deny', judge],
    ['bash < @T/run/harm.sh', 'deny', judge],
    ['bash -s < @T/run/evil.sh', 'deny', git],
    ['bash -s one two < @T/run/harm.sh', 'deny', judge],
    ['bash -s one two', 'deny', /script piped into it/],
    ['time bash @T/run/harm.sh', 'deny', judge],
    ['nohup sh @T/run/evil.sh', 'deny', git],
    ['@T/run/exe-harm', 'deny', judge],
    ['@T/run/plain-harm', 'deny', judge],
    ['cd src && @T/run/plain-harm', 'allow'], // it writes src/bench/bench.mjs, no judge
    ['find src -name "*.js" -exec @T/run/exe-harm {} \\;', 'deny', judge],
    ['bash @T/run/calls.sh', 'deny', judge],
    ['bash @T/run/self.sh', 'deny', unsure],
    ['bash @T/run/big.sh', 'deny', /cannot read \(missing, not a file, or over 64 KiB\)/],
    ['bash @T/run/missing.sh', 'deny', /a shell runs @T\/run\/missing\.sh, which the guard cannot read/],
    ['@T/run/missing', 'deny', /it runs @T\/run\/missing, which the guard cannot read/],
    ['bash "$S"', 'deny', unsure],
    ['bash @T/run/fan.sh', 'deny', /more than 32 script files/],
    ["echo 'git stash' > @T/run/ok.sh && bash @T/run/ok.sh", 'deny', /which the same command writes/],
    // shells that read start-up files the guard does not follow
    ['bash -lc "echo hi"', 'deny', /login shell runs start-up files/],
    ['bash --login @T/run/ok.sh', 'deny', /login shell/],
    ['bash -i -c true', 'deny', /interactive shell/],
    ['bash --rcfile @T/run/ok.sh -i', 'deny', unsure],
    // variables that make a shell run code
    ['BASH_ENV=@T/run/harm.sh bash -c true', 'deny', judge],
    ['export BASH_ENV=@T/run/evil.sh; bash -c "echo hi"', 'deny', git],
    ['BASH_ENV=@T/run/evil.sh; export BASH_ENV; make', 'deny', git],
    ['env BASH_ENV=@T/run/harm.sh make test', 'deny', judge],
    ['BASH_ENV=@T/run/missing.sh bash -c true', 'deny', /BASH_ENV names @T\/run\/missing\.sh/],
    ['BASH_ENV="$X" bash -c true', 'deny', unsure],
    ["env 'BASH_FUNC_ls%%=() { git reset --hard; }' bash -c ls", 'deny', git],
    ["PS4='$(git stash)' bash -xc true", 'deny', git],
    ['ZDOTDIR=@T/zd zsh -c true', 'deny', /ZDOTDIR/],
    // readers that start a program
    ['rg --pre @T/run/exe-harm x src', 'deny', judge],
    ['rg --pre=@T/run/exe-harm x src', 'deny', judge],
    ['sort --compress-program=@T/run/exe-harm src/a.js', 'deny', judge],
    ['git grep -O@T/run/exe-harm x', 'deny', judge],
    ["git grep --open-files-in-pager='git stash; true' x", 'deny', git],
    ['GIT_EXTERNAL_DIFF=@T/run/exe-harm git diff', 'deny', judge],
    ['GIT_PAGER="sh @T/run/evil.sh" git log', 'deny', git],
    ['PAGER=cat git log', 'allow'],
    // …and what stays with the user's own settings
    ['bash @T/run/ok.sh', 'allow'],
    ['sh @T/run/ok.sh a b', 'allow'],
    ['bash < @T/run/ok.sh', 'allow'],
    ['@T/run/py-harm', 'allow'], // another interpreter's script is a program, as `python3 x.py` is
    ['bash @T/run/cd.sh', 'allow'], // it writes src/check.sh
    ['time bash bench.sh', 'allow'],
    ['./bench.sh', 'allow'],
    ['BASH_ENV=@T/run/ok.sh bash -c true', 'allow'],
    ['ENV=production node src/a.js', 'allow'],
    ['zsh -c "echo hi"', 'allow'],
    ['rg --pre=@T/run/ok.sh x src', 'allow'],
    ['/bin/sh -c "echo hi"', 'allow'],
  ];

  it.each(cases)('%j → %s', (cmd, expected, reason) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    if (reason) expect(v.deny).toMatch(new RegExp(reason.source.replaceAll('@T', tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))));
    expect(v.safe).toBe(false);
  });

  it('tells a shell script from a program by its first bytes, and a shell\'s script operand from its options', () => {
    expect(['#!/bin/bash\n', '#!/usr/bin/env -S bash -eu\n', '#! /bin/sh -e\r\n', 'echo hi\n', ''].map(scriptKind)).toEqual(['shell', 'shell', 'shell', 'shell', 'shell']);
    expect(['#!/usr/bin/env python3\n', '#!/usr/bin/make -f\n', '\x7fELF\x02\x01', 'MZ\0\0'].map(scriptKind)).toEqual(['program', 'program', 'program', 'program']);
    const w = (...t: string[]) => t.map((text) => ({ text, dynamic: false, glob: false, assign: null }));
    expect(shellCall(w('-e', '-o', 'pipefail', 'x.sh', 'a'))).toMatchObject({ at: 3, inline: false, startup: null });
    expect(shellCall(w('-xc', 'echo', 'name'))).toMatchObject({ at: 1, inline: true });
    expect(shellCall(w('-s', 'a', 'b')).at).toBe(-1);
    expect(shellCall(w('--rcfile', 'r.sh', '-i')).startup).toMatch(/--rcfile/);
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.array(fc.constantFrom('-c', '-s', '-l', '-o', '--', '-', 'x.sh', '+O', '--rcfile', 'a'), { maxLength: 6 }), (head, args) => {
        expect(['shell', 'program']).toContain(scriptKind(head));
        const at = shellCall(w(...args)).at;
        expect(at === -1 || (at >= 0 && at < args.length)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('zsh reads $ZDOTDIR/.zshenv (else ~/.zshenv) before any script, unless -f', () => {
    const zctx = { ...ctx, env: { ...ctx.env, ZDOTDIR: path.join(tmp, 'zd') } };
    expect(analyzeBash('zsh -c "echo hi"', zctx).deny).toMatch(/engine owns git/);
    expect(analyzeBash('zsh -f -c "echo hi"', zctx).deny).toBeNull();
    expect(analyzeBash('bash -c "echo hi"', zctx).deny).toBeNull();
  });
});

// Routes to a judge, the engine's state, git or a file the benchmark uses that an adversarial sweep
// found open: each row is what the guard answers now; the reason says why.
const sweepRows: Row[] = [
  // A file outside the scope that exists may be what the benchmark runs without naming it (bench.sh runs
  // bench/bench.mjs; a module it imports): Bash may not rewrite it, as Edit may not. New files there may be made.
  ["sed -i 's/a/b/' bench.sh", 'deny'],
  ['echo "exit 0" >> bench.sh', 'deny'],
  ['cp src/a.js bench.sh', 'deny'],
  ['echo x | tee bench.sh', 'deny'],
  ['rm bench.sh', 'deny'],
  ['touch bench.sh', 'deny'],
  ['echo x > notes.txt', 'allow'],
  ['cp src/a.js vendor/lib/', 'allow'],
  ['node bench/bench.mjs > run.log 2>&1', 'allow'],
  // a write whose path is only known at run time, spelled with a judge's (or .autoloop's, .git's) name
  ['echo x > "$(pwd)/check.sh"', 'deny'],
  ['echo x > `pwd`/bench/bench.mjs', 'deny'],
  ['echo x > ~+/check.sh', 'deny'],
  ['F=~+/check.sh; echo x > $F', 'deny'],
  ['echo x > ${UNSET:-check.sh}', 'deny'],
  ['F=$(echo check.sh); echo x > "$F"', 'deny'],
  ['for f in check.sh; do echo x > $f; done', 'deny'],
  ['for f in src/a.js bench/bench.mjs; do sed -i s/a/b/ "$f"; done', 'deny'],
  ['read F <<< check.sh; echo x > $F', 'deny'],
  ['printf -v F check.sh; echo x > $F', 'deny'],
  ['cd "$OLDPWD" && echo x > check.sh', 'deny'],
  ['cd - && sed -i s/a/b/ bench/bench.mjs', 'deny'],
  ['echo x > /proc/self/cwd/check.sh', 'deny'],
  ['echo x > "$(pwd)/.autoloop/active.json"', 'deny'],
  ['for f in src/*.js; do sed -i s/a/b/ "$f"; done', 'allow'],
  ['node bench/bench.mjs > "$LOG"', 'allow'],
  ['echo x > "$(mktemp)"', 'allow'],
  ['F=~/out.txt; echo x > $F', 'allow'],
  // git -c keys whose value git runs, as GIT_PAGER / GIT_EXTERNAL_DIFF are judged
  ["git -c diff.external='rm check.sh' diff", 'deny'],
  ["git -c core.pager='sed -i s/a/b/ check.sh' log", 'deny'],
  ["git -c core.fsmonitor='rm check.sh' status", 'deny'],
  ["git -c 'pager.log=git reset --hard' log", 'deny'],
  ['git -c include.path=@T/cfg status', 'deny'],
  ['git --config-env=core.pager=X log', 'deny'],
  ['git -c diff.external=difft diff', 'allow'],
  ['git -c color.ui=never log', 'allow'],
  // git that moves refs or writes files by other names
  ['git fetch . HEAD~1:refs/heads/autoloop/speed', 'deny'],
  ['git fetch -u origin main', 'deny'],
  ['git send-pack . HEAD~1:refs/heads/autoloop/speed', 'deny'],
  ['git replay --onto main topic', 'deny'],
  ['git difftool -x "rm check.sh"', 'deny'],
  ['git archive HEAD -o check.sh', 'deny'],
  ['git archive --output=bench/bench.mjs HEAD', 'deny'],
  ['git format-patch -1 -o .autoloop', 'deny'],
  ['git bundle create .autoloop/x.bundle HEAD', 'deny'],
  ['git submodule update --init', 'deny'],
  ['git fetch origin', 'allow'],
  ['git archive -o @T/src.tar HEAD', 'allow'],
  ['git format-patch -1 -o @T/patches', 'allow'],
  ['git submodule status', 'allow'],
  // editors and awk -i inplace write what they open
  ["awk -i inplace '{print}' check.sh", 'deny'],
  ["gawk -i inplace '{gsub(/a/, \"b\")} 1' bench/bench.mjs", 'deny'],
  ["ed -s check.sh <<< $'1d\\nw'", 'deny'],
  ["ex -sc '1d|x' bench/bench.mjs", 'deny'],
  ["awk -i inplace '{print}' src/a.js", 'allow'],
  ["vim -es -c 'wq' src/a.js", 'allow'],
  // an alias the command defines runs its text (Claude Code's shell expands aliases)
  ["alias s='sed -i s/a/b/'\ns check.sh", 'deny'],
  ['alias g=git\ng reset --hard', 'deny'],
  ["alias e='echo x >'\ne bench/bench.mjs", 'deny'],
  ['alias x="$Y"\nx', 'deny'],
  ["alias l='ls -la'\nl src", 'allow'],
  // find's -fprint/-fls write the file they name
  ['find . -newer check.sh -fprint check.sh', 'deny'],
  ['find src -fls .autoloop/active.json', 'deny'],
  ["find src -fprintf bench/bench.mjs '%p'", 'deny'],
  ['find src -fprint @T/list.out', 'allow'],
  // programs that write a file an option or operand names
  ['uniq src/a.js check.sh', 'deny'],
  ['zip check.sh src/a.js', 'deny'],
  ['openssl enc -in src/a.js -out bench/bench.mjs', 'deny'],
  ['iconv -f utf8 -t ascii src/a.js -o check.sh', 'deny'],
  ['setfacl -m u:nobody:rw check.sh', 'deny'],
  ['chattr +i check.sh', 'deny'],
  ["sqlite3 check.sh 'create table x(a)'", 'deny'],
  ["sqlite3 -readonly @T/db 'select 1'", 'allow'],
  ['uniq src/a.js', 'allow'],
  ['zip @T/src.zip src/a.js', 'allow'],
  // wrappers that run a command: judged as that command
  ['strace -f -o @T/trace sed -i s/a/b/ check.sh', 'deny'],
  ['strace -o check.sh true', 'deny'],
  ['ltrace sed -i s/a/b/ bench/bench.mjs', 'deny'],
  ['chroot / sed -i s/a/b/ @P/check.sh', 'deny'],
  ["su -c 'sed -i s/a/b/ check.sh'", 'deny'],
  ["runuser -u nobody -- sed -i s/a/b/ check.sh", 'deny'],
  ["script -qc 'git reset --hard' /dev/null", 'deny'],
  ['script -c true check.sh', 'deny'],
  ["at now <<< 'sed -i s/a/b/ check.sh'", 'deny'],
  ["echo 'rm check.sh' | batch", 'deny'],
  ['parallel sed -i s/a/b/ ::: check.sh', 'deny'],
  ['strace -c -o @T/trace node bench/bench.mjs', 'allow'],
  ["script -qc 'ls src' /dev/null", 'allow'],
  ['parallel echo ::: 1 2 3', 'allow'],
  // a nested Claude session is another session: unguarded, so the owner may not start one
  ["claude -p 'rewrite check.sh' --dangerously-skip-permissions", 'deny'],
  ['npx @anthropic-ai/claude-code -p hi', 'deny'],
  ['/usr/local/bin/claude --version', 'deny'],
  ['which claude', 'allow'],
  ["rename 's/sh$/bak/' check.sh", 'deny'],
  ['cat src/a.js | sponge check.sh', 'deny'],
  ['set -- check.sh; : > "$1"', 'deny'],
  ["rename 's/js$/mjs/' src/a.js", 'allow'],
  ['set -- src/a.js; sed -i s/a/b/ "$1"', 'allow'],
  // xargs -a FILE: the file's text is the arguments
  ['xargs -a @T/list.txt sed -i s/a/b/', 'deny'],
  ['xargs -a @T/missing.txt rm', 'deny'],
  ['xargs -a @T/list.txt cat', 'allow'],
  // bash runs the $(…) in the subscript of a name it assigns through
  ["printf -v 'a[$(cp src/a.js check.sh)]' x", 'deny'],
  ["read 'a[$(cp src/a.js check.sh)]' < src/a.js", 'deny'],
  ["read -r 'a[`cp src/a.js check.sh`]' < src/a.js", 'deny'],
  ["printf -v 'a[$(echo 1)]' x", 'allow'],
];

describe('bash guard: routes found by the adversarial sweep', () => {
  beforeAll(() => fs.writeFileSync(path.join(tmp, 'list.txt'), 'check.sh\n'));
  it.each(sweepRows)('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    if (v.deny) expect(v.deny).toMatch(/^autoloop: /);
  });

  it('chain is approved unless its --scope takes in a judge (which the follow-up would make mutable)', () => {
    const chain = (flags: string): boolean => verdict(`node @R/dist/chain.mjs --name next --rationale r ${flags}`).safe;
    expect(chain('--scope "src/**"')).toBe(true);
    expect(chain('--scope src/a.js')).toBe(true);
    expect(chain('')).toBe(true);
    expect(chain('--scope check.sh')).toBe(false);
    expect(chain('--scope "src/**" --scope bench/bench.mjs')).toBe(false);
    expect(chain('--scope=bench')).toBe(false);
    expect(chain("--scope '**'")).toBe(false);
    expect(chain('--scope "$S"')).toBe(false);
  });

  it('a file that only bears an engine script\'s name is judged as any command (a shell script run by its path)', () => {
    for (const n of ['run-experiment.mjs', 'chain.ts']) fs.writeFileSync(path.join(P, 'src', n), '#!/bin/sh\nsed -i s/a/b/ check.sh\n', { mode: 0o755 });
    try {
      expect(verdict('./src/run-experiment.mjs').deny).toMatch(/check\.sh is protected/);
      expect(verdict('src/chain.ts --from x').deny).toMatch(/check\.sh is protected/);
      // it still counts as an engine call for the claim, and the plugin's own scripts stay approved
      expect(verdict('./src/run-experiment.mjs').claims).toBe(true);
      expect(verdict('node @R/dist/run-experiment.mjs --description x').safe).toBe(true);
    } finally {
      for (const n of ['run-experiment.mjs', 'chain.ts']) fs.rmSync(path.join(P, 'src', n));
    }
  });

  it('a write outside the scope is denied with the Edit tool\'s reason', () => {
    expect(verdict("sed -i 's/a/b/' bench.sh").deny).toMatch(/bench\.sh is outside the experiment's scope \(src\/\*\*\)/);
  });
});

// GNU getopt_long and git's parse-options take any unambiguous prefix of a long option: `sort
// --outp=F` writes F, `git grep --open=CMD` runs CMD. The guard must read the abbreviation as the
// option it stands for, on the allow list and on the deny side alike (hooks/src/long-options.ts).
const abbreviationRows: Row[] = [
  // writers, by an abbreviated option
  ['sort --outp=check.sh src/a.js', 'deny'],
  ['sort --out check.sh src/a.js', 'deny'],
  ['sed --in s/a/b/ check.sh', 'deny'],
  ['sed --in-pl=.bak s/a/b/ check.sh', 'deny'],
  ['cp --targ bench /tmp/bench.mjs', 'deny'],
  ['mv --target=bench /tmp/bench.mjs', 'deny'],
  ['install --target-d=bench /tmp/bench.mjs', 'deny'],
  ['cp --li check.sh src/c', 'deny'],
  ['cp --sym @P/check.sh src/c', 'deny'],
  ['chmod --ref=src/a.js check.sh', 'deny'],
  ['wget --output-doc=check.sh http://example.com', 'deny'],
  ['patch --out=check.sh src/a.js /tmp/p.diff', 'deny'],
  ['git archive --outp=check.sh HEAD', 'deny'],
  ['git branch --forc main HEAD~1', 'deny'],
  ['git clean --forc', 'deny'],
  // wrappers whose own options are abbreviated (or spelled with =)
  ['env --sp="sed -i s/a/b/ check.sh"', 'deny'],
  ['env --chd=bench sed -i s/a/b/ bench.mjs', 'deny'],
  ['env --chdir=bench sed -i s/a/b/ bench.mjs', 'deny'],
  ['env -Cbench sed -i s/a/b/ bench.mjs', 'deny'],
  ['nice --adj 5 sed -i s/a/b/ check.sh', 'deny'],
  ['timeout --kill 3 5 sed -i s/a/b/ check.sh', 'deny'],
  ['sudo --us root sed -i s/a/b/ check.sh', 'deny'],
  ['script --comm "sed -i s/a/b/ check.sh" /dev/null', 'deny'],
  ['flock --command="sed -i s/a/b/ check.sh" /tmp/l', 'deny'],
  // GNU time writes its -o file
  ['/usr/bin/time -o check.sh ls', 'deny'],
  ['env time --out=check.sh ls', 'deny'],
  // …and what stays fine
  ['sort --numeric src/a.js', 'allow'],
  ['sed --quiet -n 1p src/a.js', 'allow'],
  ['cp --verb src/a.js src/b.js', 'allow'],
  ['env --chdir=src sed -i s/a/b/ a.js', 'allow'],
];

describe('bash guard: abbreviated long options', () => {
  it.each(abbreviationRows)('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
  });

  it.each([
    // each of these writes or runs something: never approved
    'sort --outp=src/b.js src/a.js',
    'sort --compress-prog=gzip src/a.js',
    'git grep --open=vim x',
    'git grep --open-files="sed -i s/a/b/" x',
    'git --no-pager grep --op=true x',
    'git cat-file --filt HEAD:src/a.js',
    'git cat-file --textc HEAD:src/a.js',
    // it reads outside the repository, as no reader may
    'git diff --no-index /etc/passwd src/a.js',
    'git grep --no-index x /etc',
    // date -s sets the clock; file -C writes NAME.mgc
    'date -s 2030-01-01',
    'date --se 2030-01-01',
    'date -us 2030-01-01',
    'file -C -m src/a.js',
    'file --comp -m src/a.js',
  ])('%s is not on the allow list', (cmd) => {
    expect(verdict(cmd).safe).toBe(false);
  });

  it.each(['date +%s', 'date -u +%Y', 'date --iso-8601=seconds', 'file src/a.js', 'file -b --mime-type src/a.js', 'git grep -n x', 'git diff HEAD~1 -- src'])(
    '%s stays on the allow list',
    (cmd) => {
      expect(verdict(cmd).safe).toBe(true);
    },
  );
});

describe('bash guard: hard links to a judge or the engine\'s files', () => {
  // Writing a file in place writes all its names: one that is also the ledger or a judge is that file.
  const X = '.autoloop/experiments/speed';
  beforeAll(() => {
    fs.mkdirSync(path.join(P, X, 'scratch'), { recursive: true });
    fs.writeFileSync(path.join(P, X, 'ledger.jsonl'), '{}\n');
    fs.linkSync(path.join(P, X, 'ledger.jsonl'), path.join(P, X, 'scratch/l'));
    fs.linkSync(path.join(P, X, 'ledger.jsonl'), path.join(P, 'src/l.js'));
    fs.linkSync(path.join(P, 'check.sh'), path.join(P, 'src/c.js'));
    fs.linkSync(path.join(P, 'src/a.js'), path.join(P, 'src/a2.js'));
  });
  afterAll(() => {
    for (const f of [`${X}/scratch/l`, 'src/l.js', 'src/c.js', 'src/a2.js']) fs.rmSync(path.join(P, f), { force: true });
  });

  it.each([
    [`echo x >> ${X}/scratch/l`, /scratch\/l is another name \(a hard link\) of \.autoloop\/experiments\/speed\/ledger\.jsonl/],
    ['echo x > src/l.js', /src\/l\.js is another name \(a hard link\) of \.autoloop\/experiments\/speed\/ledger\.jsonl/],
    ['cat src/a.js > src/c.js', /src\/c\.js is another name \(a hard link\) of check\.sh/],
    ['cp /tmp/x src/c.js', /src\/c\.js is another name \(a hard link\) of check\.sh/],
  ])('%s is denied', (cmd, reason) => {
    expect(verdict(cmd).deny).toMatch(reason);
  });

  it('two names of an ordinary file, and removing a name, are not denied', () => {
    expect(verdict('echo x > src/a2.js').deny).toBeNull();
    expect(verdict('rm src/l.js').deny).toBeNull();
    expect(verdict(`ls > ${X}/scratch/out.txt`).safe).toBe(true);
  });
});

describe('bash guard: a write to a name only known at run time, assigned a judge\'s name in the same command', () => {
  it.each([
    ['a=(check.sh); echo x > ${a[0]}', 'deny'],
    ['declare -a a=(src/a.js check.sh); for i in 0 1; do echo x > "${a[$i]}"; done', 'deny'],
    ['a[0]=check.sh; echo x > ${a[0]}', 'deny'],
    ['f=check.sh bash -c "echo x > \\$f"', 'deny'],
    ['f=.autoloop/experiments/speed/ledger.jsonl sh -c \'cat src/a.js >> "$f"\'', 'deny'],
    // a judge named elsewhere in the command, not assigned: running the benchmark by hand stays the user's
    ['node bench/bench.mjs > "$LOG"', 'allow'],
    ['x=src/b.js; cat check.sh > "$OUT"', 'allow'],
  ] as Row[])('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
  });
});

describe('bash guard: what one command resolved is not kept for the next', () => {
  it('a link made after a command wrote the same name is judged where it now leads', () => {
    const name = path.join(P, 'src/later');
    expect(verdict('echo x > src/later').deny).toBeNull();
    fs.symlinkSync('../.git/hooks/pre-commit', name);
    try {
      expect(verdict('echo x > src/later').deny).toMatch(/git's own data/);
    } finally {
      fs.rmSync(name);
    }
  });
});

// A program the guard does not follow may write what it is given: `sqlite3 ".output F"`, `gcc -o F`,
// `yq -i`. A judge so written makes the next run invalid (its log puts it back), but a ledger rewritten
// between runs is believed, so the engine's state named to such a program is refused.
const opaqueStateRows: Row[] = [
  ['sqlite3 /tmp/db ".output .autoloop/experiments/speed/ledger.jsonl" "select 1"', 'deny'],
  ['sqlite3 -cmd ".once .autoloop/experiments/speed/config.yaml" /tmp/db "select 1"', 'deny'],
  ['gcc -o .autoloop/experiments/speed/ledger.jsonl x.c', 'deny'],
  ['yq -i .a=1 .autoloop/experiments/speed/config.yaml', 'deny'],
  ['python3 tool.py --out=.autoloop/experiments/speed/ledger.jsonl', 'deny'],
  ['python3 tool.py @P/.autoloop/active.json', 'deny'],
  ['cd .autoloop/experiments/speed && python3 tool.py ledger.jsonl', 'deny'],
  // …not the model's own files there, readers, or a program given other files
  ['python3 tool.py --out=.autoloop/experiments/speed/scratch/x.json', 'allow'],
  ['python3 tool.py .autoloop/experiments/speed/program.md', 'allow'],
  ['cd .autoloop/experiments/speed/scratch && python3 tool.py x', 'allow'],
  ['jq . .autoloop/experiments/speed/ledger.jsonl', 'allow'],
  ['python3 bench.py', 'allow'],
  ['gcc -o src/app src/a.c', 'allow'],
];

describe('bash guard: a program it cannot follow, given the engine\'s state', () => {
  it.each(opaqueStateRows)('%j → %s', (cmd, expected) => {
    const v = verdict(cmd);
    expect(v.deny === null ? 'allow' : 'deny', v.deny ?? '').toBe(expected);
    if (v.deny) expect(v.deny).toMatch(/belongs to the engine/);
  });
});
