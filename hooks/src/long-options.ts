// GNU getopt_long, util-linux and git's parse-options take any unambiguous prefix of a long option:
// `sort --outp=F` is `sort --output=F`, `git grep --open=CMD` is `--open-files-in-pager=CMD`. The guard
// reads options by their full names, so each command's long options are written out in full first.
// The vocabularies are the programs' own (their --help, and git <sub> -h): a prefix is expanded only
// when it names one option, as the program does; an ambiguous one makes the program refuse to run.
import type { Exp, Options } from './guard-args.ts';

const PROGRAMS: Record<string, string> = {
  awk: 'assign bignum characters-as-bytes copyright csv debug dump-variables exec field-separator file gen-pot help include lint lint-old load no-optimize non-decimal-data optimize posix pretty-print profile re-interval sandbox source traditional use-lc-numeric version',
  chgrp: 'changes dereference help no-dereference no-preserve-root preserve-root quiet recursive reference silent verbose version',
  chmod: 'changes help no-preserve-root preserve-root quiet recursive reference silent verbose version',
  chown: 'changes dereference from help no-dereference no-preserve-root preserve-root quiet recursive reference silent verbose version',
  chroot: 'groups help skip-chdir userspec version',
  cp: 'archive attributes-only backup context copy-contents dereference force help interactive link no-clobber no-dereference no-preserve no-target-directory one-file-system parents preserve recursive reflink remove-destination sparse strip-trailing-slashes suffix symbolic-link target-directory update verbose version',
  csplit: 'digits elide-empty-files help keep-files prefix quiet silent suffix-format suppress-matched version',
  date: 'date debug file help iso-8601 reference resolution rfc-3339 rfc-email set universal utc version',
  egrep: 'after-context basic-regexp before-context binary binary-files byte-offset color colour context count dereference-recursive devices directories exclude exclude-dir exclude-from extended-regexp file files-with-matches files-without-match fixed-strings group-separator help ignore-case include initial-tab invert-match label line-buffered line-number line-regexp max-count no-filename no-group-separator no-ignore-case no-messages null null-data only-matching perl-regexp quiet recursive regexp silent text version with-filename word-regexp',
  env: 'block-signal chdir debug default-signal help ignore-environment ignore-signal list-signal-handling null split-string unset version',
  fgrep: 'after-context basic-regexp before-context binary binary-files byte-offset color colour context count dereference-recursive devices directories exclude exclude-dir exclude-from extended-regexp file files-with-matches files-without-match fixed-strings group-separator help ignore-case include initial-tab invert-match label line-buffered line-number line-regexp max-count no-filename no-group-separator no-ignore-case no-messages null null-data only-matching perl-regexp quiet recursive regexp silent text version with-filename word-regexp',
  file: 'apple brief checking-printout compile debug dereference exclude exclude-quiet extension files-from help keep-going list magic-file mime mime-encoding mime-type no-buffer no-dereference no-pad no-sandbox parameter preserve-date print0 raw separator special-files uncompress uncompress-noreport version',
  flock: 'close command conflict-exit-code exclusive help no-fork nonblock shared timeout unlock verbose version',
  gawk: 'assign bignum characters-as-bytes copyright csv debug dump-variables exec field-separator file gen-pot help include lint lint-old load no-optimize non-decimal-data optimize posix pretty-print profile re-interval sandbox source traditional use-lc-numeric version',
  grep: 'after-context basic-regexp before-context binary binary-files byte-offset color colour context count dereference-recursive devices directories exclude exclude-dir exclude-from extended-regexp file files-with-matches files-without-match fixed-strings group-separator help ignore-case include initial-tab invert-match label line-buffered line-number line-regexp max-count no-filename no-group-separator no-ignore-case no-messages null null-data only-matching perl-regexp quiet recursive regexp silent text version with-filename word-regexp',
  iconv: 'from-code help list output silent to-code usage verbose version',
  install: 'backup compare context directory group help mode no-target-directory owner preserve-context preserve-timestamps strip strip-program suffix target-directory verbose version',
  ionice: 'class classdata help ignore pgid pid uid version',
  ln: 'backup directory force help interactive logical no-dereference no-target-directory physical relative suffix symbolic target-directory verbose version',
  ltrace: 'align config debug demangle help indent library output version',
  mkdir: 'context help mode parents verbose version',
  mv: 'backup context force help interactive no-clobber no-target-directory strip-trailing-slashes suffix target-directory update verbose version',
  nice: 'adjustment help version',
  patch: 'backup backup-if-mismatch basename-prefix batch binary context directory dry-run ed force forward fuzz get help ifdef ignore-whitespace input merge no-backup-if-mismatch normal output posix prefix quiet quoting-style read-only reject-file reject-format remove-empty-files reverse set-time set-utc silent strip suffix unified verbose version version-control',
  runuser: 'command fast group help login preserve-environment pty session-command shell supp-group user version whitelist-environment',
  script: 'append command echo flush force help log-in log-io log-out log-timing logging-format output-limit quiet return timing version',
  sed: 'debug expression file follow-symlinks help in-place line-length null-data posix quiet regexp-extended sandbox separate silent unbuffered version',
  shred: 'exact force help iterations random-source remove size verbose version zero',
  sort: 'batch-size buffer-size check compress-program debug dictionary-order field-separator files0-from general-numeric-sort help human-numeric-sort ignore-case ignore-leading-blanks ignore-nonprinting key merge month-sort numeric-sort output parallel random-sort random-source reverse sort stable temporary-directory unique version version-sort zero-terminated',
  split: 'additional-suffix bytes elide-empty-files filter help hex-suffixes line-bytes lines number numeric-suffixes separator suffix-length unbuffered verbose version',
  stdbuf: 'error help input output version',
  strace: 'abbrev absolute-timestamps attach columns const-print-style daemonize debug decode-fds decode-pids detach-on env failed-only fault follow-forks help inject instruction-pointer interruptible kvm no-abbrev output output-append-mode output-separately quiet raw read relative-timestamps seccomp-bpf signal stack-traces status string-limit strings-in-hex successful-only summary summary-columns summary-only summary-sort-by summary-syscall-overhead summary-wall-clock syscall-number syscall-times tips trace trace-path user verbose version write',
  su: 'command fast group help login preserve-environment pty session-command shell supp-group version whitelist-environment',
  sudo: 'askpass background bell chdir chroot close-from command-timeout edit group help host list login non-interactive other-user preserve-env preserve-groups prompt remove-timestamp reset-timestamp role set-home shell stdin type user validate version',
  tar: 'absolute-names acls add-file after-date anchored append atime-preserve auto-compress backup block-number blocking-factor bzip2 catenate check-device check-links checkpoint checkpoint-action clamp-mtime compare compress concatenate confirmation create delay-directory-restore delete dereference diff directory exclude exclude-backups exclude-caches exclude-caches-all exclude-caches-under exclude-from exclude-ignore exclude-ignore-recursive exclude-tag exclude-tag-all exclude-tag-under exclude-vcs exclude-vcs-ignores extract file files-from force-local format full-time get group group-map gunzip gzip hard-dereference help hole-detection ignore-case ignore-command-error ignore-failed-read ignore-zeros incremental index-file info-script interactive keep-directory-symlink keep-newer-files keep-old-files label level list listed-incremental lzip lzma lzop mode mtime multi-volume new-volume-script newer newer-mtime no-acls no-anchored no-auto-compress no-check-device no-delay-directory-restore no-ignore-case no-ignore-command-error no-null no-overwrite-dir no-quote-chars no-recursion no-same-owner no-same-permissions no-seek no-selinux no-unquote no-verbatim-files-from no-wildcards no-wildcards-match-slash no-xattrs null numeric-owner occurrence old-archive one-file-system one-top-level overwrite overwrite-dir owner owner-map pax-option portability posix preserve-order preserve-permissions quote-chars quoting-style read-full-records record-size recursion recursive-unlink remove-files restrict rmt-command rsh-command same-order same-owner same-permissions seek selinux show-defaults show-omitted-dirs show-snapshot-field-ranges show-stored-names show-transformed-names skip-old-files sort sparse sparse-version starting-file strip-components suffix tape-length test-label to-command to-stdout totals touch transform uncompress ungzip unlink-first unquote update usage use-compress-program utc verbatim-files-from verbose verify version volno-file warning wildcards wildcards-match-slash xattrs xattrs-exclude xattrs-include xform xz zstd',
  time: 'append format help output portability quiet verbose version',
  timeout: 'foreground help kill-after preserve-status signal verbose version',
  touch: 'date help no-create no-dereference reference time version',
  truncate: 'help io-blocks no-create reference size version',
  uniq: 'all-repeated check-chars count group help ignore-case repeated skip-chars skip-fields unique version zero-terminated',
  watch: 'beep chgexit color differences equexit errexit exec help interval no-title no-wrap precise version',
  wget: 'accept accept-regex adjust-extension append-output ask-password auth-no-challenge background backup-converted backups base bind-address body-data body-file ca-certificate ca-directory certificate certificate-type ciphers compression config connect-timeout content-disposition content-on-error continue convert-file-only convert-links crl-file cut-dirs debug default-page delete-after directory-prefix dns-timeout domains exclude-directories exclude-domains execute follow-ftp follow-tags force-directories force-html ftp-password ftp-user ftps-clear-data-connection ftps-fallback-to-ftp ftps-implicit ftps-resume-ssl header help hsts-file http-password http-user https-only ignore-case ignore-length ignore-tags include-directories inet4-only inet6-only input-file keep-session-cookies level limit-rate load-cookies local-encoding max-redirect method mirror no-cache no-check-certificate no-clobber no-config no-cookies no-directories no-dns-cache no-glob no-host-directories no-hsts no-http-keep-alive no-if-modified-since no-iri no-netrc no-parent no-passive-ftp no-proxy no-remove-listing no-use-server-timestamps no-verbose no-warc-compression no-warc-digests no-warc-keep-log output-document output-file page-requisites password pinnedpubkey post-data post-file prefer-family preserve-permissions private-key private-key-type progress protocol-directories proxy-password proxy-user quiet quota random-wait read-timeout recursive referer regex-type reject reject-regex rejected-log relative remote-encoding report-speed restrict-file-names retr-symlinks retry-connrefused retry-on-http-error save-cookies save-headers secure-protocol server-response show-progress span-hosts spider start-pos strict-comments timeout timestamping tries trust-server-names unlink use-askpass user user-agent verbose version wait waitretry warc-cdx warc-dedup warc-file warc-header warc-max-size warc-tempdir xattr',
  xargs: 'arg-file delimiter eof exit help interactive max-args max-chars max-lines max-procs no-run-if-empty null open-tty process-slot-var replace show-limits verbose version',
};

/** git subcommands whose options the guard reads by name. */
const GIT: Record<string, string> = {
  apply: 'allow-empty allow-overlap apply build-fake-ancestor cached check directory exclude ignore-space-change ignore-whitespace inaccurate-eof include index intent-to-add no-add numstat quiet recount reject reverse stat summary unidiff-zero unsafe-paths verbose whitespace',
  archive: 'add-file add-virtual-file exec format list output prefix remote verbose worktree-attributes',
  branch: 'abbrev all color column contains copy create-reflog delete edit-description force format ignore-case list merged move no-contains no-merged points-at quiet recurse-submodules remotes set-upstream-to show-current sort track unset-upstream verbose',
  'cat-file': 'allow-unknown-type batch batch-all-objects batch-check batch-command buffer filters follow-symlinks mailmap path textconv unordered use-mailmap',
  clean: 'dry-run exclude force interactive quiet',
  fetch: 'all append atomic auto auto-gc auto-maintenance deepen depth dry-run filter force ipv4 ipv6 jobs keep multiple negotiate-only negotiation-tip no-tags prefetch progress prune prune-tags quiet recurse-submodules refetch refmap server-option set-upstream shallow-exclude shallow-since show-forced-updates stdin tags unshallow update-head-ok update-shallow upload-pack verbose write-commit-graph write-fetch-head',
  grep: 'after-context all-match and basic-regexp before-context break cached color column context count exclude-standard ext-grep extended-regexp files-with-matches files-without-match fixed-strings full-name function-context heading ignore-case invert-match line-number max-count max-depth name-only no-index not null only-matching open-files-in-pager or perl-regexp quiet recurse-submodules recursive show-function text textconv threads untracked word-regexp',
  'merge-file': 'diff3 marker-size ours quiet stdout theirs union zdiff3',
  tag: 'annotate cleanup color column contains create-reflog delete edit file force format ignore-case list local-user merged message no-column no-contains no-merged points-at sign sort verify',
};

const vocab = (table: Record<string, string>, key: string): string[] | null =>
  Object.hasOwn(table, key) ? table[key]!.split(' ') : null;

/** The word with its long option written out, or as it is (no vocabulary, no match, ambiguous, exact). */
function expandWord(w: Exp, names: string[]): Exp {
  const t = w.text;
  if (w.dynamic || !t.startsWith('--') || t.length < 3) return w;
  const eq = t.indexOf('=');
  const name = eq < 0 ? t.slice(2) : t.slice(2, eq);
  if (names.includes(name)) return w;
  const hits = names.filter((n) => n.startsWith(name));
  if (hits.length !== 1) return w;
  return { ...w, text: `--${hits[0]}${eq < 0 ? '' : t.slice(eq)}` };
}

/** A program's arguments with every long option (up to `--`) in full: getopt_long takes options anywhere. */
export function expandLong(prog: string, args: Exp[], table: 'program' | 'git' = 'program'): Exp[] {
  const names = vocab(table === 'git' ? GIT : PROGRAMS, prog);
  if (!names) return args;
  const end = args.findIndex((a) => a.text === '--');
  return args.map((a, k) => (end >= 0 && k >= end ? a : expandWord(a, names)));
}

/**
 * A wrapper's own options in full (words[0] is the wrapper): only those before the command it runs,
 * which its options end (the values of options that take one are skipped, per `spec`).
 */
export function expandLeading(words: Exp[], spec: Options): Exp[] {
  const names = words[0] ? vocab(PROGRAMS, words[0].text.replace(/^.*\//, '')) : null;
  if (!names) return words;
  const out = [...words];
  for (let i = 1; i < out.length; i++) {
    const t = out[i]!.text;
    if (t === '--' || !t.startsWith('-') || t.length < 2) break;
    if (t.startsWith('--')) {
      out[i] = expandWord(out[i]!, names);
      if (!out[i]!.text.includes('=') && spec.long?.includes(out[i]!.text)) i++;
    } else {
      const body = t.slice(1);
      const at = [...body].findIndex((c) => spec.arg?.includes(c));
      if (at >= 0 && at === body.length - 1) i++;
    }
  }
  return out;
}
