# Parses the console output of one `iscsi-test-cu` run (CUnit "basic" interface, verbose mode).
#
#   awk -v outdir=DIR -f parse-cunit.awk iscsi-test-cu.log
#
# CUnit prints "\nSuite: NAME", then per test "\n  Test: NAME ..." and, when the test returns, "passed" or
# "FAILED" followed by "\n    N. file.c:LINE  - condition" records. libiscsi's own log lines (indented) come in
# between, so CUnit's "passed"/"FAILED" usually starts a line of its own, and suite clean-up output may follow it
# on the same line ("passed    Send PRIN/READ_KEYS").
#
# Output (tab separated):
#   RESULT  <passed|skipped|FAILED|INCOMPLETE>  <suite>  <test>  [first [SKIPPED] line, for skipped]
#   SUMMARY <total> <ran> <passed> <failed> <inactive>      (the "tests" row of CUnit's Run Summary)
# For FAILED and INCOMPLETE tests the test's whole output is written to outdir/<suite>.<test>.log.
# "skipped" is a test that passed after logging [SKIPPED] (libiscsi's way to say the device lacks a feature).
# INCOMPLETE: the output ends (crash, kill) before CUnit reported the test.

function finish_test(   st, f) {
    if (cur == "") return
    st = status
    if (st == "") {
        # fallback: CUnit's word glued to the end of a log line that lacked a newline
        if (lastsig ~ /FAILED$/) st = "FAILED"
        else if (lastsig ~ /passed$/) st = "passed"
        else st = "INCOMPLETE"
    }
    if (st == "passed" && skipped) st = "skipped"
    print "RESULT", st, suite, cur, (st == "skipped" ? skipmsg : "")
    if (st == "FAILED" || st == "INCOMPLETE") {
        f = outdir "/" suite "." cur ".log"
        printf "%s", chunk > f
        close(f)
    }
    cur = ""
    chunk = ""
}

function word(s) {
    if (status != "") return
    if (s ~ /^FAILED/) status = "FAILED"
    else if (s ~ /^passed/) status = "passed"
}

BEGIN { OFS = "\t"; cur = ""; suite = ""; chunk = ""; insummary = 0 }

{ sub(/\r$/, "") }

/^Suite: / {
    finish_test()
    suite = substr($0, 8)
    next
}

/^  Test: .* \.\.\./ {
    finish_test()
    name = $0
    sub(/^  Test: /, "", name)
    rest = name
    sub(/ \.\.\..*$/, "", name)
    sub(/^[^ ]* \.\.\./, "", rest)
    cur = name
    chunk = $0 "\n"
    skipped = 0
    status = ""
    lastsig = rest
    skipmsg = ""
    if (rest ~ /\[SKIPPED\]/) { skipped = 1; skipmsg = rest }
    word(rest)
    next
}

/^Run Summary:/ {
    finish_test()
    insummary = 1
    next
}

insummary && $1 == "tests" {
    print "SUMMARY", $2, $3, $4, $5, $6
    next
}

cur != "" {
    chunk = chunk $0 "\n"
    if (status == "" && $0 ~ /\[SKIPPED\]/) { if (!skipped) skipmsg = $0; skipped = 1 }
    word($0)
    if ($0 ~ /[^ \t]/) lastsig = $0
}

END { finish_test() }
