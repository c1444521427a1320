# Sourced by run.sh after pre-tool-use.sh (whose JSON walker it uses): Stop
# and SessionStart decided in the shell for their common cases, as
# hooks/src/on-session.ts decides them. Stop: the owner of an active loop
# within both caps, which Node answers with a block and three counters
# written to session.json. SessionStart: an active loop's state for the
# model. The same rule as pre-tool-use.sh: give exactly Node's answer (its
# stdout, and for Stop the session.json it writes, byte for byte) or defer.
# The caps reached, a disabled hook, a loop not active, a session.json the
# shell cannot rewrite exactly (a past_end record, an escaped string), text
# Node would clip or that JSON.stringify would spell otherwise: all Node's.
# active.json is the engine's (written whole, by rename): the shell checks
# its grammar and the types of its top-level fields, not the array items.
# Builtins only, but for the one `mv` that makes the Stop write atomic.

# UTF-16 units per character the shell counts, at most: 1 where ${#} counts bytes (dash), 2 where it counts characters.
st_t='é'
if [ ${#st_t} -eq 2 ]; then st_units=1; else st_units=2; fi

# Record a top-level field of active.json or session.json (pf_mode), kind $1, key $2;
# 1 when its type is not the one the schema wants. Unknown keys are ignored, as zod does.
st_field() {
  case $pf_mode.$2 in
    active.version | active.runs | active.next_run | active.stop_hook.max_blocks | active.stop_hook.max_idle_blocks | session.blocks | session.idle_blocks) [ "$1" = n ] ;;
    active.experiment | active.loop | active.summary | active.next_action | active.updated_at) [ "$1" = s ] ;;
    active.scope | active.protect | active.writable | active.worktrees) [ "$1" = a ] ;;
    active.stop_hook) [ "$1" = o ] ;;
    active.chain_allowed) [ "$1" = b ] ;;
    active.terminated_by | session.owner_session | session.owner_agent | session.chain_nudged | session.candidate | session.owner_process | session.candidate_process) [ "$1" = s ] || [ "$1" = z ] ;;
    session.last_runs) [ "$1" = n ] || [ "$1" = z ] ;;
    session.past_end) [ "$1" = z ] ;; # an object: Node's to rewrite
    result.phase) ;;
    *) return 0 ;;
  esac || return 1
  case $pf_seen in *",$2,"*) return 1 ;; esac
  pf_seen="$pf_seen,$2,"
  # The raw text (a string's without its quotes, a number's, or null); a string's kind is s.
  case $1 in z) pf_s=null ;; esac
  case $2 in stop_hook.max_blocks) st_f=max_blocks ;; stop_hook.max_idle_blocks) st_f=max_idle ;; *) st_f=$2 ;; esac
  eval "st_k_$st_f=\$1 st_v_$st_f=\$pf_s"
}

# A JSON integer as JSON.stringify writes it, small enough for shell arithmetic.
st_int() {
  case $1 in 0 | [1-9] | [1-9]*[0-9] | -[1-9] | -[1-9]*[0-9]) ;; *) return 1 ;; esac
  case ${1#-} in *[!0-9]*) return 1 ;; esac
  [ ${#1} -le 9 ]
}

# A string (raw) JSON.stringify writes the same: no escape at all, or (with
# $2) only the short ones it uses.
st_plain() {
  case $1 in *\\*) ;; *) return 0 ;; esac
  [ -n "$2" ] || return 1
  pf_t=$1
  while :; do
    case $pf_t in *\\*) ;; *) return 0 ;; esac
    pf_t=${pf_t#*\\}
    case $pf_t in [\"\\bfnrt]*) pf_t=${pf_t#?} ;; *) return 1 ;; esac
  done
}

# A string-or-null field of session.json ($1) as Node writes it back, into st_j.
st_json() {
  eval "st_t=\$st_k_$1 st_j=\$st_v_$1"
  [ "$st_t" = z ] || st_j=\"$st_j\"
}

# The Claude Code process this hook runs under, as hooks/src/cli-process.ts writes it
# (pid@start, start empty without /proc), into st_cli_id; 1 when run.sh did not name it.
st_cli() {
  case ${AUTOLOOP_CLI_PID:-} in '' | 0* | *[!0-9]* | ??????????*) return 1 ;; esac
  st_cli_id=
  { IFS= read -r st_cli_id </proc/"$AUTOLOOP_CLI_PID"/stat; } 2>/dev/null
  case $st_cli_id in *') '*) st_cli_f "${st_cli_id##*) }" ;; *) st_cli_id= ;; esac
  st_cli_id=$AUTOLOOP_CLI_PID@$st_cli_id
}
# Field 22 of /proc/<pid>/stat: the 20th after the command's name ($1), in st_cli_id.
st_cli_f() {
  set -f
  set -- $1
  set +f
  st_cli_id=${20:-}
}

# active.json ($1): valid, version 1, loop active, counters plain integers,
# next_action and summary spelt as JSON.stringify spells them. Sets st_v_*.
st_active() {
  pf_mode=active
  for st_f in version loop runs next_run next_action max_blocks max_idle experiment summary updated_at scope protect writable terminated_by stop_hook; do
    eval "st_k_$st_f= st_v_$st_f="
  done
  pf_walk "$1" || return 1
  pf_mode=
  for st_f in version experiment loop scope protect writable summary next_action terminated_by runs stop_hook updated_at stop_hook.max_blocks stop_hook.max_idle_blocks; do
    case $pf_seen in *",$st_f,"*) ;; *) return 1 ;; esac
  done
  [ "$st_v_version" = 1 ] && [ "$st_v_loop" = active ] || return 1
  case $st_v_terminated_by in null | target | plateau | max_runs | wall_clock | chain_budget | manual) ;; *) return 1 ;; esac
  st_int "$st_v_runs" && st_int "$st_v_max_blocks" && st_int "$st_v_max_idle" || return 1
  [ "$st_v_runs" -ge 0 ] && [ "$st_v_max_blocks" -ge 0 ] && [ "$st_v_max_idle" -ge 1 ] || return 1
  st_plain "$st_v_next_action" 1 && st_plain "$st_v_summary" 1 && st_plain "$st_v_experiment"
}

# session.json ($1) as the hooks' schema reads it, with no warning (SessionFile in
# hooks/src/schema.ts): every field of the right type, integers the shell can
# count, strings JSON.stringify writes back the same (no escape). Sets st_k_*
# and st_v_* (a missing optional field as zod's default, null); 1 to defer.
st_session() {
  pf_mode=session
  for st_f in owner_session owner_agent blocks idle_blocks last_runs chain_nudged candidate past_end owner_process candidate_process; do
    eval "st_k_$st_f= st_v_$st_f="
  done
  pf_walk "$1" || return 1
  for st_f in owner_session owner_agent blocks idle_blocks last_runs; do
    case $pf_seen in *",$st_f,"*) ;; *) return 1 ;; esac
  done
  pf_mode=
  st_int "$st_v_blocks" && st_int "$st_v_idle_blocks" || return 1
  [ "$st_v_last_runs" = null ] || st_int "$st_v_last_runs" || return 1
  [ "$st_k_owner_session" != s ] || st_plain "$st_v_owner_session" || return 1
  for st_f in owner_agent chain_nudged candidate owner_process candidate_process; do
    eval "st_t=\$st_k_$st_f st_u=\$st_v_$st_f"
    [ -n "$st_t" ] || eval "st_k_$st_f=z st_v_$st_f=null" # zod's default
    [ "$st_t" != s ] || st_plain "$st_u" || return 1
  done
}

# The lock every writer of session.json ($1) takes (scripts/lib/session-lock.ts): created
# exclusively (set -C) with this shell's pid, into sl_lock. The caller writes the new state into
# it and renames it over session.json, which frees it. Taken only while session.json is still
# the text the answer was decided on ($2, as run.sh reads it: a line break after each line, ' '
# for an empty or odd file, '' for none); else freed. 1: busy or changed, the answer is Node's
# (Node waits for the lock a bounded time and decides again on what is there).
sl_take() {
  sl_lock=$1.lock
  set -C
  { printf '%s\n' "$$" >"$sl_lock"; } 2>/dev/null
  sl_r=$?
  set +C
  [ $sl_r -eq 0 ] || return 1
  sl_t=
  if [ -f "$1" ]; then
    while IFS= read -r sl_l || [ -n "$sl_l" ]; do sl_t="$sl_t$sl_l
"; done <"$1"
    [ -n "$sl_t" ] || sl_t=' '
  elif [ -e "$1" ]; then
    sl_t=' '
  fi
  [ "$sl_t" = "$2" ] && return 0
  rm -f "$sl_lock" 2>/dev/null
  return 1
}

# $1: the payload, $2: this session's id, $3: the project, $4: active.json's
# text, $5: session.json's text. Writes session.json and prints the block; 1 to defer.
st_decide() {
  [ "${AUTOLOOP_STOP_HOOK:-}" != off ] || return 1
  [ ${#1} -le 8192 ] || return 1
  pf_mode= && pf_walk "$1" || return 1
  [ "$pf_sid" = "$2" ] || return 1
  st_active "$4" || return 1
  # Short enough that Node clips nothing (st_units: UTF-16 units per counted character at most).
  [ $((${#st_v_next_action} * st_units)) -le 1600 ] || return 1
  # A run measured but not logged, or cut off, comes before the next action: Node's to say (stop.ts).
  case $st_v_experiment in '' | . | .. | *[!A-Za-z0-9_.-]*) return 1 ;; esac
  ss_latest "$3" || return 1
  case $ss_phase in measured | running) return 1 ;; esac
  st_session "$5" || return 1
  [ "$st_k_owner_session" = s ] && [ "$st_v_owner_session" = "$2" ] || return 1
  # hooks/src/stop.ts: a run logged since the last block starts the idle streak over; either cap reached is Node's.
  st_idle=$st_v_idle_blocks
  [ "$st_v_last_runs" = null ] || [ "$st_v_last_runs" -eq "$st_v_runs" ] || st_idle=0
  [ "$st_v_blocks" -lt "$st_v_max_blocks" ] && [ "$st_idle" -lt "$st_v_max_idle" ] || return 1
  st_file=$3/.autoloop/session.json
  st_json owner_agent && st_a=$st_j
  st_json chain_nudged && st_c=$st_j
  st_json candidate && st_d=$st_j
  st_json owner_process && st_o=$st_j
  st_json candidate_process
  # Written under the lock, from the text decided on (sl_take), else Node's.
  sl_take "$st_file" "$5" || return 1
  printf '{\n  "owner_session": "%s",\n  "owner_agent": %s,\n  "blocks": %s,\n  "idle_blocks": %s,\n  "last_runs": %s,\n  "chain_nudged": %s,\n  "candidate": %s,\n  "past_end": null,\n  "owner_process": %s,\n  "candidate_process": %s\n}\n' \
    "$st_v_owner_session" "$st_a" $((st_v_blocks + 1)) $((st_idle + 1)) "$st_v_runs" "$st_c" "$st_d" "$st_o" "$st_j" >|"$sl_lock" 2>/dev/null && mv -f "$sl_lock" "$st_file" 2>/dev/null || {
    rm -f "$sl_lock" 2>/dev/null
    return 1
  }
  printf '%s%s%s\n' '{"decision":"block","reason":"autoloop: the experiment loop is still active ('"$st_v_runs"' runs logged). Next: ' "$st_v_next_action" '\nDo not ask the user whether to continue and do not wrap up: carry on (change code in scope, then run-experiment --description \"…\") until the engine reports a stop."}'
}

# SessionStart (hooks/src/session-start.ts), the rules and the fixed next steps as JSON spells them.
ss_rules='Rules while the loop runs:\n- The engine decides keep or revert: after each change run run-experiment --description \"…\" (it measures and logs; run-experiment, then log-experiment only to look first). Never judge a result yourself.\n- Never edit the benchmark, the checks, or anything under .autoloop/ except your notes, ideas and the scratch/ area (profiles and analysis go there).\n- Never run git commit/reset/checkout/clean/stash by hand: the engine commits a keep and reverts the rest.\n- Never ask the user whether to continue: keep iterating until the engine reports a stop.\n- To pick the loop up again (after a restart or a pause), use /autoloop:run.'
ss_rules_units=653
ss_baseline='No baseline yet: run the baseline unchanged (run-experiment --description baseline), with no edit before it.'

# r and $ss_n padded to four digits (paths.ts runId), into ss_p; no subshell.
ss_pad() {
  ss_p=$ss_n
  while [ ${#ss_p} -lt 4 ]; do ss_p=0$ss_p; done
  ss_p=r$ss_p
}

# The phase of the experiment's latest run (state.ts, latestRunPhase) into ss_phase ('' for
# none); 1 to defer (a result.json the shell cannot read as Node would, two runs of one number).
ss_latest() {
  ss_phase= ss_max= ss_name=
  ss_runs=$1/.autoloop/experiments/$st_v_experiment/runs
  [ -d "$ss_runs" ] || return 0
  # From active.json's next_run when its last logged run's folder is there (latestFrom in state.ts),
  # else by listing them all.
  if [ "$st_k_next_run" = n ] && st_int "$st_v_next_run" && [ "$st_v_next_run" -ge 2 ]; then
    ss_n=$((st_v_next_run - 1))
    ss_pad
    if [ -d "$ss_runs/$ss_p" ]; then
      while :; do
        ss_name=$ss_p ss_n=$((ss_n + 1))
        ss_pad
        [ -d "$ss_runs/$ss_p" ] || break
      done
    fi
  fi
  [ -n "$ss_name" ] || for ss_d in "$ss_runs"/r*; do
    ss_n=${ss_d##*/} && ss_n=${ss_n#r}
    case $ss_n in '' | *[!0-9]*) continue ;; esac
    while :; do case $ss_n in 0?*) ss_n=${ss_n#0} ;; *) break ;; esac; done
    [ ${#ss_n} -le 9 ] || return 1
    if [ -z "$ss_max" ] || [ "$ss_n" -gt "$ss_max" ]; then
      ss_max=$ss_n ss_name=${ss_d##*/}
    elif [ "$ss_n" -eq "$ss_max" ]; then
      return 1
    fi
  done
  [ -n "$ss_name" ] || return 0
  ss_f=$ss_runs/$ss_name/result.json
  [ -e "$ss_f" ] || return 0
  [ -f "$ss_f" ] || return 1
  ss_text=
  while IFS= read -r ss_l || [ -n "$ss_l" ]; do
    ss_text="$ss_text$ss_l
"
    [ ${#ss_text} -le 8192 ] || return 1
  done <"$ss_f"
  pf_mode=result st_k_phase= st_v_phase=
  pf_walk "$ss_text" || return 1
  pf_mode=
  [ "$st_k_phase" = s ] || return 0
  case $st_v_phase in *\\*) return 1 ;; esac
  ss_phase=$st_v_phase
  # Logged at or past active.json's next_run: active.json predates that run (a call cut off after it).
  if [ "$ss_phase" = logged ] && [ "$st_k_next_run" = n ] && st_int "$st_v_next_run"; then
    ss_n=${ss_name#r}
    while :; do case $ss_n in 0?*) ss_n=${ss_n#0} ;; *) break ;; esac; done
    [ "$ss_n" -lt "$st_v_next_run" ] || ss_phase=logged_unseen
  fi
}

# $1: the payload, $2: the project, $3: active.json's text, $4: session.json's text ('' when
# there is none). Prints the context; 1 to defer. The shell answers the loop's state to the
# owner whose Stop budget needs no reset, and to anyone while nobody owns the loop; another
# session beside an owned loop gets its one line (ss_other); a candidate's state, a handover by
# /clear or /branch and a resumed owner's fresh budget are Node's (session-start.ts,
# sessionStartDecision).
ss_decide() {
  [ ${#1} -le 8192 ] || return 1
  pf_mode= && pf_walk "$1" || return 1
  case $pf_seen in *,session_id,*) ;; *) return 1 ;; esac
  ss_sid=$pf_sid ss_src=$pf_source ss_agent=$pf_agent
  if [ -n "$4" ]; then
    st_session "$4" || return 1
    if [ "$st_k_owner_session" = s ] && [ "$st_v_owner_session" != "$ss_sid" ]; then
      ss_other "$3"
      return
    fi
    if [ "$st_k_owner_session" = s ]; then
      st_plain "$ss_sid" && [ "$st_v_owner_session" = "$ss_sid" ] || return 1
      [ "$st_v_blocks" = 0 ] && [ "$st_v_idle_blocks" = 0 ] || return 1
      # The owner in another process than the one recorded (a resume): Node records it.
      st_cli && [ "$st_k_owner_process" = s ] && [ "$st_v_owner_process" = "$st_cli_id" ] || return 1
    fi
    # A candidate's process recorded: a new id there (/clear, /branch) takes the handover, and the
    # candidate seen in another process (a resume) has it recorded. Node's, both.
    if [ "$st_k_candidate" = s ] && [ "$st_k_candidate_process" = s ]; then
      st_plain "$ss_sid" || return 1
      st_cli || return 1
      if [ "$st_v_candidate" = "$ss_sid" ]; then
        [ "$st_v_candidate_process" = "$st_cli_id" ] || return 1
      else
        [ "$st_v_candidate_process" != "$st_cli_id" ] || return 1
      fi
    fi
  fi
  st_active "$3" || return 1
  case $st_v_experiment in '' | . | .. | *[!A-Za-z0-9_.-]*) return 1 ;; esac
  ss_latest "$2" || return 1
  case $ss_phase in
    # Whether its result already reached the ledger (a log cut off before marking the record) is Node's to read.
    measured | logged_unseen) return 1 ;;
    # Cut off, or being measured by a live engine process (its lock): Node's to tell apart.
    running) return 1 ;;
    *) if [ "$st_v_runs" -eq 0 ]; then ss_next=$ss_baseline; else ss_next=$st_v_next_action; fi ;;
  esac
  if [ "$st_v_runs" -eq 1 ]; then ss_s=; else ss_s=s; fi
  ss_head='autoloop: experiment \"'$st_v_experiment'\" is running in this repository ('$st_v_runs' run'$ss_s' logged).'
  # Node clips nothing when it all fits (st_units: UTF-16 units per counted character at most).
  [ $((${#ss_next} * st_units)) -le 600 ] || return 1
  [ $(((${#ss_head} + ${#st_v_summary} + ${#ss_next}) * st_units + ss_rules_units + 12)) -le 2000 ] || return 1
  ss_body=$ss_head
  [ -z "$st_v_summary" ] || ss_body="$ss_body\\n\\n$st_v_summary"
  printf '%s%s%s%s%s\n' '{"hookSpecificOutput":{"hookEventName":"SessionStart","additionalContext":"' "$ss_body" '\n\nNext: ' "$ss_next" '\n\n'"$ss_rules"'"}}'
}

# Another session beside a loop someone owns (session-start.ts otherSessionLine): one line, no state,
# nothing written. Node's instead for the session handed the loop, the autoloop agent, a new id in
# the owner's or the candidate's process (a /clear or /branch there: Node hands it over), an escape
# that could spell any of them, and a loop that is not active. $1: active.json's text; st_* and ss_*
# set by ss_decide. Prints the line; 1 to defer.
ss_other() {
  st_plain "$ss_sid" || return 1
  case $ss_agent$ss_src in *\\*) return 1 ;; esac
  [ "$ss_agent" != autoloop:autoloop ] || return 1
  [ "$st_k_candidate" != s ] || [ "$st_v_candidate" != "$ss_sid" ] || return 1
  case $ss_src in clear | fork)
    if st_cli; then
      [ "$st_k_owner_process" != s ] || [ "$st_v_owner_process" != "$st_cli_id" ] || return 1
      [ "$st_k_candidate_process" != s ] || [ "$st_v_candidate_process" != "$st_cli_id" ] || return 1
    fi
    ;;
  esac
  st_active "$1" || return 1
  case $st_v_experiment in '' | . | .. | *[!A-Za-z0-9_.-]*) return 1 ;; esac
  if [ "$st_v_runs" -eq 1 ]; then ss_s=; else ss_s=s; fi
  ss_fork=
  [ "$ss_src" != fork ] || ss_fork=' This conversation is a fork: any loop instructions earlier in it were given to the session that drives the loop and do not apply here; do not run the engine or change the code in scope from this session.'
  printf '%s\n' '{"hookSpecificOutput":{"hookEventName":"SessionStart","additionalContext":"autoloop: experiment \"'"$st_v_experiment"'\" is running in this repository ('"$st_v_runs"' run'"$ss_s"' logged), driven by another session; this session is not part of it unless the user hands it the loop (/autoloop:run).'"$ss_fork"'"}}'
}
