# shellcheck shell=bash
# Sourced by tools/test.sh: runs libiscsi's iscsi-test-cu conformance suite against a running gateway, one suite
# per iscsi-test-cu process (a hang or crash then costs one suite, not the run), and scores it against
# tools/conformance/iscsi-test-cu.expected-failures.
#
# Uses from test.sh: LOG_DIR, GW_PID, CU_INITIATOR_1, CU_INITIATOR_2, ok/bad/say/indent, PASSED/FAILED and
# STAGE_PASS/STAGE_FAIL. Sets CU_STAGE_NOTE.
#
# Scoring (each iscsi-test-cu test is one count):
#   passed / skipped by the tool          -> pass
#   failed and listed as expected failure -> pass ("expected failure")
#   failed, not listed                    -> fail
#   listed but passed                     -> pass, reported as "remove it from the list"
#   not run (suite timed out, crashed, time budget spent, gateway died) -> fail

CU_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cu_pass() { PASSED=$((PASSED + 1)); STAGE_PASS=$((STAGE_PASS + 1)); }
cu_fail() { FAILED=$((FAILED + 1)); STAGE_FAIL=$((STAGE_FAIL + 1)); }

# family of a suite as in `iscsi-test-cu --list`: the iSCSI* suites are family iSCSI, all others SCSI
cu_family() { if [[ "$1" == iSCSI* ]]; then echo iSCSI; else echo SCSI; fi; }

run_iscsi_test_cu() {
  local url="$1"
  local cu_dir="$LOG_DIR/iscsi-test-cu"
  local expected_file="$CU_HERE/iscsi-test-cu.expected-failures"
  local suite_timeout="${TG_CU_SUITE_TIMEOUT:-180}"
  local budget="${TG_CU_BUDGET:-1200}"
  local selection="${TG_CU_TESTS:-SCSI.* iSCSI.*}"
  local extra_args=()
  read -r -a extra_args <<<"${TG_CU_ARGS:-}"
  rm -rf "$cu_dir"
  mkdir -p "$cu_dir/failures"

  # --- every known test, as Suite.Test, and the suites to run (as FAMILY.Suite) ---
  iscsi-test-cu --list >"$cu_dir/list.txt" 2>&1
  declare -A KNOWN=()     # Suite.Test -> 1
  declare -A SUITE_TESTS=() # Suite -> "Test1 Test2 ..."
  local fam suite test rest
  while IFS=. read -r fam suite test rest; do
    [[ "$fam" == SCSI || "$fam" == iSCSI ]] || continue
    [[ -n "$suite" && -n "$test" && -z "$rest" ]] || continue
    KNOWN["$suite.$test"]=1
    SUITE_TESTS["$suite"]+="$test "
  done <"$cu_dir/list.txt"
  if ((${#KNOWN[@]} == 0)); then
    bad "iscsi-test-cu --list listed no tests (see $cu_dir/list.txt)"
    CU_STAGE_NOTE=""
    return
  fi
  local suites=() g globs=()
  read -r -a globs <<<"$selection" # read -a: no pathname expansion of the globs
  while IFS=. read -r fam suite rest; do
    [[ "$fam" == SCSI || "$fam" == iSCSI ]] || continue
    [[ -n "$suite" && -z "$rest" ]] || continue
    for g in "${globs[@]}"; do
      # shellcheck disable=SC2053
      if [[ "$fam.$suite" == $g ]]; then suites+=("$fam.$suite"); break; fi
    done
  done <"$cu_dir/list.txt"

  # --- expected failures ---
  declare -A EXPECTED=() # Suite.Test -> reason
  local line name reason
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%$'\r'}"
    name="${line%%#*}"
    name="${name//[[:space:]]/}"
    [[ -z "$name" ]] && continue
    reason="${line#*#}"
    [[ "$reason" == "$line" ]] && reason=""
    reason="$(sed -E 's/^[[:space:]]+//' <<<"$reason")"
    name="${name#ALL.}"
    name="${name#SCSI.}"
    name="${name#iSCSI.}"
    if [[ -z "${KNOWN[$name]:-}" ]]; then
      bad "expected-failures entry '$line' names no iscsi-test-cu test (typo?)"
      continue
    fi
    EXPECTED["$name"]="$reason"
  done <"$expected_file"

  say "iscsi-test-cu -V --dataloss -i $CU_INITIATOR_1 -I $CU_INITIATOR_2 --test=<suite> ${extra_args[*]} $url"
  say "  ${#suites[@]} suites, one process each (timeout ${suite_timeout}s per suite, ${budget}s in all); logs: $cu_dir/"

  local t0=$SECONDS
  local n_pass=0 n_skip=0 n_fail=0 n_xfail=0 n_xpass=0 n_notrun=0
  local xfail_lines=() xpass_lines=() fail_lines=()
  local gateway_dead=0
  local fs log rc st sfail spass sskip elapsed left tlimit status key summary
  declare -A RES=()
  for fs in "${suites[@]}"; do
    fam="${fs%%.*}"
    suite="${fs#*.}"
    log="$cu_dir/$suite.log"
    left=$((budget - (SECONDS - t0)))
    RES=()
    summary=""
    if ((gateway_dead)); then
      note="not run: the gateway died"
    elif ((left <= 0)); then
      note="not run: conformance time budget (${budget}s) spent"
    else
      note=""
      tlimit=$suite_timeout
      # MultipathIO needs a second path: a second session to the same LU through the same portal
      local urls=("$url")
      [[ "$suite" == MultipathIO ]] && urls+=("$url")
      ((left < tlimit)) && tlimit=$left
      st=$SECONDS
      timeout -k 5 "$tlimit" iscsi-test-cu -V --dataloss -i "$CU_INITIATOR_1" -I "$CU_INITIATOR_2" \
        --test="$fs" "${extra_args[@]}" "${urls[@]}" </dev/null >"$log" 2>&1
      rc=$?
      elapsed=$((SECONDS - st))
      while IFS=$'\t' read -r kind a b c d e; do
        case "$kind" in
          RESULT)
            RES["$b.$c"]="$a"
            if [[ "$a" == skipped ]]; then
              d="${d#"${d%%[![:space:]]*}"}"
              printf "%s.%s.%s\t%s\n" "$fam" "$b" "$c" "$d" >>"$cu_dir/skipped.txt"
            fi
            ;;
          SUMMARY) summary="total=$a ran=$b passed=$c failed=$d" ;;
        esac
      done < <(awk -v outdir="$cu_dir/failures" -f "$CU_HERE/parse-cunit.awk" "$log")
      if ((rc == 124 || rc == 137)); then
        note="killed after ${tlimit}s"
      elif [[ -z "$summary" ]]; then
        note="iscsi-test-cu exited $rc without a Run Summary"
      fi
      if ! kill -0 "$GW_PID" 2>/dev/null; then
        gateway_dead=1
        note="${note:+$note; }the gateway died during this suite"
      fi
    fi

    spass=0 sfail=0 sskip=0
    local sx=0
    for test in ${SUITE_TESTS[$suite]}; do
      key="$suite.$test"
      status="${RES[$key]:-NOTRUN}"
      case "$status" in
        passed | skipped)
          cu_pass
          if [[ "$status" == skipped ]]; then n_skip=$((n_skip + 1)); sskip=$((sskip + 1)); else n_pass=$((n_pass + 1)); fi
          spass=$((spass + 1))
          if [[ -n "${EXPECTED[$key]+x}" ]]; then
            n_xpass=$((n_xpass + 1))
            xpass_lines+=("$fam.$key ($status) - remove it from the list")
          fi
          ;;
        *)
          if [[ -n "${EXPECTED[$key]+x}" && "$status" == FAILED ]]; then
            cu_pass
            n_xfail=$((n_xfail + 1)); sx=$((sx + 1))
            xfail_lines+=("$fam.$key  # ${EXPECTED[$key]}")
          else
            cu_fail
            sfail=$((sfail + 1))
            if [[ "$status" == NOTRUN ]]; then
              n_notrun=$((n_notrun + 1))
              fail_lines+=("$fam.$key: not run${note:+ ($note)}")
            else
              n_fail=$((n_fail + 1))
              fail_lines+=("$fam.$key: $status")
              cu_print_failure "$fam" "$suite" "$test" "$status" "$cu_dir/failures/$key.log"
            fi
          fi
          ;;
      esac
    done
    # tests the output names but --list does not (should not happen)
    for key in "${!RES[@]}"; do
      if [[ -z "${KNOWN[$key]:-}" ]]; then
        say "  note: iscsi-test-cu reported unknown test $key: ${RES[$key]}"
      fi
    done
    # cross-check the parse against CUnit's own Run Summary
    if [[ -n "$summary" ]]; then
      local sum_failed="${summary##*failed=}"
      local parsed_failed=0
      for key in "${!RES[@]}"; do [[ "${RES[$key]}" == FAILED || "${RES[$key]}" == INCOMPLETE ]] && parsed_failed=$((parsed_failed + 1)); done
      if [[ "$sum_failed" != "$parsed_failed" ]]; then
        say "  WARNING: $fs: CUnit Run Summary says $sum_failed failed, the parser found $parsed_failed (see $log)"
      fi
    fi
    printf '  %-34s %3d passed (%d skipped by the tool), %d expected failures, %3d FAILED%s\n' \
      "$fs" "$spass" "$sskip" "$sx" "$sfail" "${note:+  [$note]}${elapsed:+ ${elapsed}s}"
    elapsed=""
  done

  say ""
  say "iscsi-test-cu: $((n_pass + n_skip)) passed ($n_skip of them skipped by the tool), $n_xfail expected failures," \
    "$n_fail failed, $n_notrun not run; $((SECONDS - t0))s"
  if [[ -s "$cu_dir/skipped.txt" ]]; then
    say "skipped by the tool (passed without testing; usually a feature the LU does not claim), by reason:"
    cut -f2 "$cu_dir/skipped.txt" | sed -E "s/^\[SKIPPED\] *//" | sort | uniq -c | sort -rn | sed -E "s/^ *([0-9]+) /  \1x /"
    say "  (per test: $cu_dir/skipped.txt)"
  fi
  if ((${#xfail_lines[@]})); then
    say "expected failures (counted as passed):"
    printf '  XFAIL %s\n' "${xfail_lines[@]}"
  fi
  if ((${#xpass_lines[@]})); then
    say "listed as expected failures but did not fail:"
    printf '  XPASS %s\n' "${xpass_lines[@]}"
  fi
  if ((${#fail_lines[@]})); then
    say "unexpected failures:"
    printf '  FAIL  %s\n' "${fail_lines[@]}"
  fi
  CU_STAGE_NOTE="$n_skip skipped by the tool, $n_xfail expected failures, $n_xpass to remove from the list"
}

# cu_print_failure FAMILY SUITE TEST STATUS CHUNKFILE: the CUnit failure records and the [FAILED] lines
cu_print_failure() {
  local fam="$1" suite="$2" test="$3" status="$4" chunk="$5"
  say "  FAIL  $fam.$suite.$test ($status)"
  if [[ -f "$chunk" ]]; then
    {
      grep -E '^\s+[0-9]+\. .*:[0-9]+  - |\[FAILED\]|\[FAILURE\]' "$chunk" | head -n 12
      if [[ "$status" == INCOMPLETE ]]; then tail -n 5 "$chunk"; fi
    } | sed -E 's/^\s+/        /; s/\s{4,}Send .*$//'
    say "        (full output: $chunk)"
  fi
}
