// git's own commands: built in, or shipped with git in its exec path. git runs
// these before it looks for an alias of the same name, so an alias never
// shadows them; any other subcommand is an alias, a git-<name> program, or
// nothing (git's autocorrect may then run a command of a similar name).
// From `git --list-cmds=main` (git 2.39), plus commands added since.
export const GIT_BUILTINS: ReadonlySet<string> = new Set([
  'add', 'am', 'annotate', 'apply', 'archive', 'bisect', 'blame', 'branch',
  'bugreport', 'bundle', 'cat-file', 'check-attr', 'check-ignore', 'check-mailmap', 'check-ref-format', 'checkout',
  'checkout-index', 'cherry', 'cherry-pick', 'clean', 'clone', 'column', 'commit', 'commit-graph',
  'commit-tree', 'config', 'count-objects', 'credential', 'credential-cache', 'credential-store', 'daemon', 'describe',
  'diagnose', 'diff', 'diff-files', 'diff-index', 'diff-tree', 'difftool', 'fast-export', 'fast-import',
  'fetch', 'fetch-pack', 'filter-branch', 'fmt-merge-msg', 'for-each-ref', 'for-each-repo', 'format-patch', 'fsck',
  'fsck-objects', 'gc', 'get-tar-commit-id', 'grep', 'hash-object', 'help', 'hook', 'http-backend',
  'http-fetch', 'http-push', 'imap-send', 'index-pack', 'init', 'init-db', 'instaweb', 'interpret-trailers',
  'log', 'ls-files', 'ls-remote', 'ls-tree', 'mailinfo', 'mailsplit', 'maintenance', 'merge',
  'merge-base', 'merge-file', 'merge-index', 'merge-octopus', 'merge-one-file', 'merge-ours', 'merge-recursive', 'merge-recursive-ours',
  'merge-recursive-theirs', 'merge-resolve', 'merge-subtree', 'merge-tree', 'mergetool', 'mktag', 'mktree', 'multi-pack-index',
  'mv', 'name-rev', 'notes', 'pack-objects', 'pack-redundant', 'pack-refs', 'patch-id', 'pickaxe',
  'prune', 'prune-packed', 'pull', 'push', 'quiltimport', 'range-diff', 'read-tree', 'rebase',
  'receive-pack', 'reflog', 'remote', 'remote-ext', 'remote-fd', 'remote-ftp', 'remote-ftps', 'remote-http',
  'remote-https', 'repack', 'replace', 'request-pull', 'rerere', 'reset', 'restore', 'rev-list',
  'rev-parse', 'revert', 'rm', 'send-pack', 'shell', 'shortlog', 'show', 'show-branch',
  'show-index', 'show-ref', 'sparse-checkout', 'stage', 'stash', 'status', 'stripspace', 'submodule',
  'subtree', 'switch', 'symbolic-ref', 'tag', 'unpack-file', 'unpack-objects', 'update-index', 'update-ref',
  'update-server-info', 'upload-archive', 'upload-pack', 'var', 'verify-commit', 'verify-pack', 'verify-tag', 'version',
  'whatchanged', 'worktree', 'write-tree',
  'backfill', 'last-modified', 'refs', 'replay', 'repo', 'scalar',
]);
