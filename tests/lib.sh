# Shared by tests/test_*.sh: checks that count failures and a closing tally.
: "${GRPO_BIN:?GRPO_BIN must point at the grpo binary (ctest sets it)}"
PASSED=0
FAILED=0
check() { # check NAME ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); echo "FAIL: $1: got '$2', expected '$3'" >&2; fi
}
expect_match() { # expect_match NAME TEXT EXTENDED-REGEX
  if printf '%s\n' "$2" | grep -Eq -- "$3"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); printf 'FAIL: %s: /%s/ not in:\n%s\n' "$1" "$3" "$2" >&2; fi
}
finish() {
  echo "$1: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}
test_tmpdir() { # a fresh directory for this test's files
  local d="${GRPO_BUILD_DIR:-/tmp}/testtmp/$1-$$"
  rm -rf "$d" && mkdir -p "$d" && printf '%s\n' "$d"
}
