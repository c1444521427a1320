# Sourced by run.sh after pre-tool-use.sh and session.sh (whose walkers it
# uses): PostToolUse of a session that does not own the loop, decided in the
# shell when it ran one of the plugin's engine scripts in the form the shell
# approves for the owner (pf_engine), as hooks/src/post-tool-use.ts decides
# it. Node prints nothing here; it either leaves session.json alone or, when
# the call drives the loop (a measurement or a log after the baseline, or
# either as the autoloop agent), hands the loop to this session: session.json
# rewritten from the empty state with this session, its agent and the runs
# logged. Same rule as the other shell answers: Node's exact effect, byte for
# byte, or defer (chain and init-experiment, odd spellings, a session.json
# Node would warn about, a loop not active, session.json locked or changed
# since it was read). Builtins only, but for the `mv` that makes the write
# atomic and frees the lock.

# $1: the payload, $2: this session's id, $3: the plugin root, $4: the project,
# $5: active.json's text, $6: session.json's text ('' when there is none). 1 to defer.
cl_decide() {
  [ ${#1} -le 8192 ] || return 1
  pf_mode= && pf_walk "$1" || return 1
  [ "$pf_sid" = "$2" ] && [ "$pf_tool" = Bash ] || return 1
  # JSON.stringify writes the agent's name back as it came: plain characters only.
  case $pf_agent in *[!A-Za-z0-9_:.-]*) return 1 ;; esac
  cl_agent=$pf_agent cl_hasagent=$pf_hasagent # the walks of the state files below reset them
  pf_engine "$pf_cmd" "$3" || return 1
  st_active "$5" || return 1
  if [ -n "$6" ]; then
    st_session "$6" || return 1
    # The owner's own calls record nothing (run.sh answers them before this).
    [ "$st_k_owner_session" != s ] || [ "$st_v_owner_session" != "$2" ] || return 0
  fi
  cl_e=${pf_script#"$3"/dist/} cl_e=${cl_e%.mjs} cl_min=
  case $cl_e in run-experiment) cl_min=1 ;; log-experiment) cl_min=2 ;; esac
  [ -n "$cl_min" ] || return 0 # status, report, control, …: nothing to record
  [ "$cl_agent" = autoloop:autoloop ] || [ "$st_v_runs" -ge $cl_min ] || return 0
  if [ -n "$cl_hasagent" ]; then cl_a=\"$cl_agent\"; else cl_a=null; fi
  cl_file=$4/.autoloop/session.json
  # The process the new owner runs in (a later /clear there keeps the loop), as cli-process.ts.
  if st_cli; then cl_p=\"$st_cli_id\"; else cl_p=null; fi
  # Written under the lock, from the text decided on (sl_take, session.sh), else Node's.
  sl_take "$cl_file" "$6" || return 1
  printf '{\n  "owner_session": "%s",\n  "owner_agent": %s,\n  "blocks": 0,\n  "idle_blocks": 0,\n  "last_runs": %s,\n  "chain_nudged": null,\n  "candidate": null,\n  "past_end": null,\n  "owner_process": %s,\n  "candidate_process": null\n}\n' \
    "$2" "$cl_a" "$st_v_runs" "$cl_p" >|"$sl_lock" 2>/dev/null && mv -f "$sl_lock" "$cl_file" 2>/dev/null || {
    rm -f "$sl_lock" 2>/dev/null
    return 1
  }
}

# A PostToolUse that certainly ran no engine script, whoever's it is: Node records nothing for it
# (post-tool-use.ts: only a handover skill, or a script whose name is an engine entry point,
# bash-guard.ts ENGINE_SCRIPT, changes session.json), so the shell says the same without Node.
# For a second Claude in the repository, whose `node …` and `npx …` calls all come here (hooks.json),
# this is every such call. $1: the payload, or the first 8 kB of a larger one (a command's output
# makes it large): Claude Code writes tool_input before tool_response (JSON.stringify, no duplicate
# key), so the fields before `,"tool_response":` decide, as pf_head decides a Write by its head.
# The output is never walked, even in a small payload: each escaped quote in it costs the shell a
# scan of the rest (6 kB of quoted JSON output took longer than a Node start). A payload that is not
# valid JSON past that point is one Node ignores too. 0: nothing to do; 1 to defer.
cl_inert() {
  case $1 in *',"tool_response":'*) cl_p=${1%%,\"tool_response\":*}} ;; *) return 1 ;; esac
  pf_mode= && pf_walk "$cl_p" || return 1
  case $pf_tool in
    Skill)
      # Not a skill that hands the loop over (roles.ts HANDOVER_SKILLS), spelt with no escape.
      case $pf_seen in *,in.skill,*) ;; *) return 0 ;; esac
      case $pf_skill in *\\* | autoloop:run | autoloop:chain | autoloop:setup) return 1 ;; esac
      return 0
      ;;
    Bash) case $pf_seen in *,in.command,*) cl_quiet "$pf_cmd" ;; *) return 1 ;; esac ;;
    *) return 1 ;;
  esac
}

# A command ($1, raw JSON) that names no engine script and reads no other text as code: simple
# commands of words (plain characters or simple quotes: no $, backquote, backslash, glob,
# brace, parenthesis, # or newline), joined by && || ; |, with 2>&1, >&2 or a redirection of
# output to a plain word; each led by node, npx, cd or a reader that runs nothing (no assignment
# before it, no wrapper, shell, source, eval or alias: those make the Bash guard read a script's
# text, where an engine call could hide); and no word holding "experiment", "chain" or
# "candidate" (quotes removed: every engine entry point's name holds one).
cl_quiet() {
  pf_unquote "$1" || return 1
  cl_lead=1
  while :; do
    while :; do case $pf_c in ' '*) pf_c=${pf_c#?} ;; *) break ;; esac; done
    case $pf_c in
      '') return 0 ;;
      '&&'* | '||'*) pf_c=${pf_c#??} cl_lead=1; continue ;;
      '|&'* | '&'* | ';;'*) return 1 ;;
      '|'* | ';'*) pf_c=${pf_c#?} cl_lead=1; continue ;;
      '2>&1'[\ \;\&\|]* | '2>&1' | '>&2'[\ \;\&\|]* | '>&2') pf_c=${pf_c#2>&1} pf_c=${pf_c#>&2}; continue ;;
      '>'* | '2>'*)
        pf_c=${pf_c#2} pf_c=${pf_c#>}
        pf_c=${pf_c#>}
        case $pf_c in [\&\|\<\>]*) return 1 ;; esac
        while :; do case $pf_c in ' '*) pf_c=${pf_c#?} ;; *) break ;; esac; done
        pf_word || return 1
        [ -n "$pf_w" ] || return 1
        continue
        ;;
    esac
    pf_word || return 1
    case $pf_w in *experiment* | *chain* | *candidate*) return 1 ;; esac
    if [ -n "$cl_lead" ]; then
      case $pf_w in node | npx | cd | cat | head | tail | wc | grep | echo | true) cl_lead= ;; *) return 1 ;; esac
    fi
  done
}
