# Sourced by run.sh after pre-tool-use.sh (whose JSON walker it uses): Stop
# decided in the shell for the common case, the owner of an active loop
# within both caps, which the Node hook (hooks/src/stop.ts) answers with a
# block and three counters written to session.json. The same rule as
# pre-tool-use.sh: give exactly Node's answer (its stdout and the
# session.json it writes, byte for byte) or defer. The caps reached, a
# disabled hook, a terminated loop, a session.json the shell cannot rewrite
# exactly (a past_end record, an escaped string), an unusual next_action:
# all Node's. Builtins only, but for the one `mv` that makes the write atomic.

# Record a top-level field of active.json or session.json (pf_mode), kind $1, key $2;
# 1 when its type is not the one the schema wants. Unknown keys are ignored, as zod does.
st_field() {
  case $pf_mode.$2 in
    active.version | active.runs | active.stop_hook.max_blocks | active.stop_hook.max_idle_blocks | session.blocks | session.idle_blocks) [ "$1" = n ] ;;
    active.experiment | active.loop | active.summary | active.next_action | active.updated_at) [ "$1" = s ] ;;
    active.scope | active.protect | active.writable | active.worktrees) [ "$1" = a ] ;;
    active.stop_hook) [ "$1" = o ] ;;
    active.chain_allowed) [ "$1" = b ] ;;
    active.terminated_by | session.owner_session | session.owner_agent | session.chain_nudged | session.candidate) [ "$1" = s ] || [ "$1" = z ] ;;
    session.last_runs) [ "$1" = n ] || [ "$1" = z ] ;;
    session.past_end) [ "$1" = z ] ;; # an object: Node's to rewrite
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

# $1: the payload, $2: this session's id, $3: the project, $4: active.json's
# text, $5: session.json's text. Writes session.json and prints the block; 1 to defer.
st_decide() {
  [ "${AUTOLOOP_STOP_HOOK:-}" != off ] || return 1
  [ ${#1} -le 8192 ] || return 1
  pf_mode= && pf_walk "$1" || return 1
  [ "$pf_sid" = "$2" ] || return 1
  pf_mode=active
  for st_f in version loop runs next_action max_blocks max_idle experiment summary updated_at scope protect writable terminated_by stop_hook; do
    eval "st_k_$st_f= st_v_$st_f="
  done
  pf_walk "$4" || return 1
  for st_f in version experiment loop scope protect writable summary next_action terminated_by runs stop_hook updated_at stop_hook.max_blocks stop_hook.max_idle_blocks; do
    case $pf_seen in *",$st_f,"*) ;; *) return 1 ;; esac
  done
  [ "$st_v_version" = 1 ] && [ "$st_v_loop" = active ] || return 1
  case $st_v_terminated_by in null | target | plateau | max_runs | wall_clock | chain_budget | manual) ;; *) return 1 ;; esac
  st_int "$st_v_runs" && st_int "$st_v_max_blocks" && st_int "$st_v_max_idle" || return 1
  [ "$st_v_runs" -ge 0 ] && [ "$st_v_max_blocks" -ge 0 ] && [ "$st_v_max_idle" -ge 1 ] || return 1
  # Short enough that Node clips nothing (a character is at most two UTF-16 units).
  [ ${#st_v_next_action} -le 800 ] && st_plain "$st_v_next_action" 1 || return 1
  pf_mode=session
  for st_f in owner_session owner_agent blocks idle_blocks last_runs chain_nudged candidate past_end; do
    eval "st_k_$st_f= st_v_$st_f="
  done
  pf_walk "$5" || return 1
  for st_f in owner_session owner_agent blocks idle_blocks last_runs; do
    case $pf_seen in *",$st_f,"*) ;; *) return 1 ;; esac
  done
  pf_mode=
  [ "$st_k_owner_session" = s ] && [ "$st_v_owner_session" = "$2" ] || return 1
  st_int "$st_v_blocks" && st_int "$st_v_idle_blocks" || return 1
  [ "$st_v_last_runs" = null ] || st_int "$st_v_last_runs" || return 1
  for st_f in owner_agent chain_nudged candidate; do
    eval "st_t=\$st_k_$st_f st_u=\$st_v_$st_f"
    [ -n "$st_t" ] || eval "st_k_$st_f=z st_v_$st_f=null" # zod's default
    [ "$st_t" != s ] || st_plain "$st_u" || return 1
  done
  # hooks/src/stop.ts: a run logged since the last block starts the idle streak over; either cap reached is Node's.
  st_idle=$st_v_idle_blocks
  [ "$st_v_last_runs" = null ] || [ "$st_v_last_runs" -eq "$st_v_runs" ] || st_idle=0
  [ "$st_v_blocks" -lt "$st_v_max_blocks" ] && [ "$st_idle" -lt "$st_v_max_idle" ] || return 1
  st_file=$3/.autoloop/session.json
  st_tmp=$st_file.$$.tmp
  st_json owner_agent && st_a=$st_j
  st_json chain_nudged && st_c=$st_j
  st_json candidate
  printf '{\n  "owner_session": "%s",\n  "owner_agent": %s,\n  "blocks": %s,\n  "idle_blocks": %s,\n  "last_runs": %s,\n  "chain_nudged": %s,\n  "candidate": %s,\n  "past_end": null\n}\n' \
    "$st_v_owner_session" "$st_a" $((st_v_blocks + 1)) $((st_idle + 1)) "$st_v_runs" "$st_c" "$st_j" >"$st_tmp" 2>/dev/null && mv -f "$st_tmp" "$st_file" 2>/dev/null || {
    rm -f "$st_tmp" 2>/dev/null
    return 1
  }
  printf '%s%s%s\n' '{"decision":"block","reason":"autoloop: the experiment loop is still active ('"$st_v_runs"' runs logged). Next: ' "$st_v_next_action" '\nDo not ask the user whether to continue and do not wrap up: carry on (change code in scope, then run-experiment --description \"…\") until the engine reports a stop."}'
}
