#!/bin/sh
# Shim for every autoloop hook: sh run.sh <event>.
# These hooks fire on every tool call of every session of everyone who has the
# plugin installed, so a project without an autoloop experiment must cost
# nothing: no Node start, not even a read of stdin. Only shell builtins run
# before the exec.

# The status line needs a command that outlives updates, but the plugin's
# folder name carries its version. At each session start, point a launcher in
# the plugin's data folder (one path for every version) at this copy:
# `sh ~/.claude/plugins/data/autoloop-autoloop/statusline.sh`. Builtins only.
if [ "$1" = session-start ] && [ -d "${CLAUDE_PLUGIN_DATA:-}" ] && [ -n "${CLAUDE_PLUGIN_ROOT:-}" ]; then
  printf '%s\n' "$CLAUDE_PLUGIN_ROOT" >"$CLAUDE_PLUGIN_DATA/plugin-root" 2>/dev/null
  printf '%s\n' '#!/bin/sh' \
    '# autoloop status line; rewritten at each session start to run the current plugin copy.' \
    'read -r root <"${0%/*}/plugin-root" 2>/dev/null || exit 0' \
    '[ -f "$root/dist/statusline.mjs" ] && command -v node >/dev/null 2>&1 || exit 0' \
    'exec node "$root/dist/statusline.mjs"' >"$CLAUDE_PLUGIN_DATA/statusline.sh" 2>/dev/null
fi

# A Write carries a whole file (often tens of kB) that the shell would read byte
# by byte: hooks.json sends it as pre-write, a PreToolUse whose head only the
# shell reads (below).
write=
if [ "$1" = pre-write ]; then write=1; set -- pre-tool-use; fi

# The engine keeps its state at the repository's top; the session may have
# started in a subdirectory. Walk up, stopping at the repository's top. A
# relative or odd directory is made absolute first, and every step must make
# the path shorter, so the walk always ends.
dir="${CLAUDE_PROJECT_DIR:-$PWD}"
case "$dir" in /*) ;; *) dir="${PWD:-/}/$dir" ;; esac
while [ ! -f "$dir/.autoloop/active.json" ]; do
  if [ -e "$dir/.git" ] || [ -z "$dir" ] || [ "$dir" = / ]; then exit 0; fi
  up="${dir%/*}"
  [ -n "$up" ] || up=/
  [ "$up" != "$dir" ] || exit 0
  dir="$up"
done

if ! command -v node >/dev/null 2>&1; then
  # Say it once per project, not on every tool call; never fail the call. As a
  # systemMessage: Claude Code shows no stderr of a hook that exits 0 (checked in
  # the pinned CLI's terminal), so a line there would never be read.
  marker="$dir/.autoloop/node-missing"
  if [ ! -e "$marker" ]; then
    echo '{"systemMessage":"autoloop: node was not found on PATH, so the autoloop hooks are off (install Node.js 20 or later)."}'
    : >"$marker" 2>/dev/null
  fi
  exit 0
fi
# Node is back: a later outage (a PATH without it, say under cron or a desktop launcher) is said
# again. The rm runs only while the marker is there.
[ ! -e "$dir/.autoloop/node-missing" ] || rm -f "$dir/.autoloop/node-missing" 2>/dev/null

# Claude Code starts this shim (exec form) as a child of its own process: the hooks
# record which process the loop's owner runs in (hooks/src/cli-process.ts), so that a
# /clear there (a new session id in the same process) keeps the loop's driver.
AUTOLOOP_CLI_PID=$PPID
export AUTOLOOP_CLI_PID
case "$0" in */*) here="${0%/*}" ;; *) here=. ;; esac
root="${CLAUDE_PLUGIN_ROOT:-$here/..}"
if [ ! -f "$root/dist/hooks.cjs" ]; then
  echo "autoloop: $root/dist/hooks.cjs is missing (run npm run build in the plugin); hooks are off." >&2
  exit 0
fi
# Does this session (CLAUDE_CODE_SESSION_ID) own the loop, by the owner in
# .autoloop/session.json (written by the hooks)? No for an id the shell cannot
# compare safely.
sid="${CLAUDE_CODE_SESSION_ID:-}"
# names <key>: session.json's <key> is this session's id (a text match; Node reads the file).
names() {
  case "$sid" in '' | *[!A-Za-z0-9_-]*) return 1 ;; esac
  [ -f "$dir/.autoloop/session.json" ] || return 1
  state=
  while IFS= read -r line || [ -n "$line" ]; do state="$state$line"; done <"$dir/.autoloop/session.json"
  case "$state" in *"\"$1\": \"$sid\""* | *"\"$1\":\"$sid\""*) return 0 ;; esac
  return 1
}
owns() { names owner_session; }
# SessionEnd (hooks.json: /clear, and /branch or /resume, which end the conversation with
# "resume") matters only for the conversation of the owner or of the session handed the loop
# (session-start.ts sessionEndDecision): anyone else's starts no Node.
if [ "$1" = session-end ] && ! owns && ! names candidate; then exit 0; fi
# PostToolUse only records which session drives the loop: when the owner is
# already this session, there is nothing to record and no Node to start.
if [ "$1" = post-tool-use ] && owns; then exit 0; fi
# Node reads every certificate in NODE_EXTRA_CA_CERTS at start-up (measured: +0.6 of a
# bare start); the hooks open no connection, so they go without it.
unset NODE_EXTRA_CA_CERTS
# PostToolUse of another session: its engine call may claim the loop (claim.sh:
# Node's session.json, byte for byte, or defer). One read of at most 8 kB, as
# for a Write: any node command of another session comes here, whatever it printed.
# A call that certainly ran no engine script (cl_inert) records nothing: no Node.
if [ "$1" = post-tool-use ] && [ -f "$here/claim.sh" ] && [ ! -e "$dir/.autoloop/node-too-old" ]; then
  input=$(dd bs=8192 count=1 2>/dev/null; echo x)
  input=${input%x}
  . "$here/pre-tool-use.sh"
  . "$here/session.sh"
  . "$here/claim.sh"
  cl_inert "$input" && exit 0
  case "${CLAUDE_PLUGIN_ROOT:-}" in
    /*[!A-Za-z0-9_./@+-]* | *//* | */./* | */../* | */. | */.. | */ | [!/]* | '') ;;
    *)
      if [ ${#input} -lt 8192 ] && [ ! -L "$CLAUDE_PLUGIN_ROOT/dist" ] && case "$sid" in '' | *[!A-Za-z0-9_-]*) false ;; esac; then
        active= session=
        while IFS= read -r line || [ -n "$line" ]; do active="$active$line
"; done <"$dir/.autoloop/active.json"
        if [ -f "$dir/.autoloop/session.json" ]; then
          while IFS= read -r line || [ -n "$line" ]; do session="$session$line
"; done <"$dir/.autoloop/session.json"
          [ -n "$session" ] || session=' ' # empty: Node warns, so it is Node's
        elif [ -e "$dir/.autoloop/session.json" ]; then
          session=' '
        fi
        cl_decide "$input" "$sid" "$CLAUDE_PLUGIN_ROOT" "$dir" "$active" "$session" && exit 0
      fi
      ;;
  esac
  { printf '%s' "$input"; exec cat; } | AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" "$1"
  exit 0
fi
if [ "$1" = pre-read ]; then
  # Read needs a decision only for the plugin's own files (outside the project):
  # its payload is small, so the shell reads it and spares a Node start for the rest.
  input=
  while IFS= read -r line || [ -n "$line" ]; do input="$input$line
"; done
  case "$input" in *"\"file_path\":\"${CLAUDE_PLUGIN_ROOT:-/nonexistent}/"*) ;; *) exit 0 ;; esac
  printf '%s' "$input" | AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" pre-tool-use
  exit 0
fi
# Stop of the owner while the loop runs and within its caps, and SessionStart of
# an active loop: decided in the shell (session.sh: Node's answer, and for Stop
# the same session.json, or defer).
if { [ "$1" = stop ] && owns; } || [ "$1" = session-start ]; then
  if [ -f "$here/session.sh" ] && [ ! -e "$dir/.autoloop/node-too-old" ]; then
    # One read of at most 8 kB, as for a Write: `read` takes a pipe a byte per system call (a
    # Stop carries the model's last message). Larger, or cut short by the pipe: Node's, whole.
    input=$(dd bs=8192 count=1 2>/dev/null; echo x)
    input=${input%x}
    active= session=
    while IFS= read -r line || [ -n "$line" ]; do active="$active$line
"; done <"$dir/.autoloop/active.json"
    . "$here/pre-tool-use.sh"
    . "$here/session.sh"
    if [ "$1" = stop ]; then
      while IFS= read -r line || [ -n "$line" ]; do session="$session$line
"; done <"$dir/.autoloop/session.json"
      st_decide "$input" "$sid" "$dir" "$active" "$session" && exit 0
      # A paused or stopped loop: Node answers nothing (other.sh).
      if [ -f "$here/other.sh" ]; then
        . "$here/other.sh"
        ot_quiet "$active" && exit 0
      fi
    else
      # session.json: '' when there is none; an empty one is Node's (it warns).
      if [ -f "$dir/.autoloop/session.json" ]; then
        while IFS= read -r line || [ -n "$line" ]; do session="$session$line
"; done <"$dir/.autoloop/session.json"
        [ -n "$session" ] || session=' '
      elif [ -e "$dir/.autoloop/session.json" ]; then
        session=' '
      fi
      ss_decide "$input" "$dir" "$active" "$session" && exit 0
    fi
    { printf '%s' "$input"; exec cat; } | AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" "$1"
    exit 0
  fi
fi
# PreToolUse of the owner while the loop runs: its engine commands are decided
# in the shell (pre-tool-use.sh, which answers as Node would or defers), when
# the plugin root is a plain absolute path whose dist/ is no link (Node
# compares resolved paths; the shell compares text).
if [ "$1" = pre-tool-use ] && [ -f "$here/pre-tool-use.sh" ] && owns; then
  active=
  while IFS= read -r line || [ -n "$line" ]; do active="$active$line"; done <"$dir/.autoloop/active.json"
  case "$active" in *'"loop":"active"'* | *'"loop": "active"'*) ;; *) active= ;; esac
  case "$active" in *'"version":1,'* | *'"version": 1,'*) ;; *) active= ;; esac
  case "${CLAUDE_PLUGIN_ROOT:-}" in
    /*[!A-Za-z0-9_./@+-]* | *//* | */./* | */../* | */. | */.. | */ | [!/]* | '') active= ;;
  esac
  # The Node hook stands down on a Node older than 20 (and leaves this marker): so does the shell.
  if [ -n "$active" ] && [ ! -L "$CLAUDE_PLUGIN_ROOT/dist" ] && [ ! -e "$dir/.autoloop/node-too-old" ]; then
    input=
    . "$here/pre-tool-use.sh"
    if [ -n "$write" ]; then
      # One read of at most 8 kB (dd reads no further; the x keeps trailing newlines). A
      # payload that fills it is decided from that head when the fields before the content
      # are all in it (pf_head), the rest left unread as when there is no loop; else Node
      # gets it whole.
      input=$(dd bs=8192 count=1 2>/dev/null; echo x)
      input=${input%x}
      if [ ${#input} -ge 8192 ]; then
        pf_head "$input" && pf_decide "$pf_headed" "$sid" "$CLAUDE_PLUGIN_ROOT" "$dir" "$active" && exit 0
        { printf '%s' "$input"; exec cat; } | AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" pre-tool-use
        exit 0
      fi
    fi
    while IFS= read -r line || [ -n "$line" ]; do input="$input$line
"; done
    pf_decide "$input" "$sid" "$CLAUDE_PLUGIN_ROOT" "$dir" "$active" && exit 0
    AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" pre-tool-use <<EOF
$input
EOF
  fi
fi
# PreToolUse and Stop while the loop is paused or stopped, and of a session that is
# not part of the loop another session drives: Node would print nothing and write
# nothing (other.sh decides when that is certain, or defers). A paused or stopped
# loop is decided before stdin is read, as a project with no loop. Else one read of
# at most 8 kB, as for a Write; a Write larger than that is decided from its head
# (pf_head), the rest left unread.
if { [ "$1" = pre-tool-use ] || [ "$1" = stop ]; } && [ -f "$here/other.sh" ]; then
  active=
  while IFS= read -r line || [ -n "$line" ]; do active="$active$line
"; done <"$dir/.autoloop/active.json"
  . "$here/pre-tool-use.sh"
  . "$here/session.sh"
  . "$here/other.sh"
  ot_quiet "$active" && exit 0
fi
if { [ "$1" = pre-tool-use ] || [ "$1" = stop ]; } && [ -f "$here/other.sh" ] && [ -f "$dir/.autoloop/session.json" ] && ! owns; then
  input=$(dd bs=8192 count=1 2>/dev/null; echo x)
  input=${input%x}
  session=
  while IFS= read -r line || [ -n "$line" ]; do session="$session$line
"; done <"$dir/.autoloop/session.json"
  if [ ${#input} -lt 8192 ]; then
    ot_decide "$input" "$session" && exit 0
  elif [ -n "$write" ] && pf_head "$input"; then
    ot_decide "$pf_headed" "$session" && exit 0
  fi
  # Node's: the head and whatever is left of stdin.
  { printf '%s' "$input"; exec cat; } | AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" "$1"
  exit 0
fi
AUTOLOOP_PROJECT_DIR="$dir" exec node "$root/dist/hooks.cjs" "$1"
