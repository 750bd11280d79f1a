#!/usr/bin/env bash
# The alloy program on bad input: a one-line error naming the problem and a non-zero exit, never
# a crash; and one good run. ctest runs it as cli_bad_input.
#   tests/cli/test_cli.sh ALLOY_BINARY TEST_DATA_DIR
set -uo pipefail
alloy="$1"
data="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
# expect_error NAME "TEXT the message must contain" ARGS...
expect_error() {
  local name="$1" want="$2"
  shift 2
  "$alloy" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$?
  local lines
  lines=$(grep -c . "$tmp/err")
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$tmp/err"; then
    echo "FAIL $name: exit $rc, stderr ($lines lines): $(head -c 400 "$tmp/err")"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(cat "$tmp/err")"
  fi
}
expect_error "missing model" "no-such-model.gguf" generate -m "$tmp/no-such-model.gguf" -p hi
printf 'GGUF\003\000\000\000garbage' > "$tmp/corrupt.gguf"
expect_error "corrupt model" "corrupt.gguf" generate -m "$tmp/corrupt.gguf" -p hi
# An unknown command prints the usage after its one-line error.
if "$alloy" frobnicate > /dev/null 2> "$tmp/err"; then
  echo "FAIL unknown command: exit 0"
  failures=$((failures + 1))
elif ! head -1 "$tmp/err" | grep -qF "unknown command 'frobnicate'" || ! grep -q "^usage:" "$tmp/err"; then
  echo "FAIL unknown command: $(head -2 "$tmp/err")"
  failures=$((failures + 1))
else
  echo "ok   unknown command: $(head -1 "$tmp/err")"
fi
expect_error "unknown cache type" "unknown KV cache type 'q4'" bench -m "$tmp/x.gguf" --cache-type q4
stories="$data/models/stories260K.gguf"
if [ -f "$stories" ]; then
  expect_error "q8_0 cache, head size 8" "multiple of 32" generate -m "$stories" -p Once -n 4 --cache-type q8_0
  long=$(printf 'Once upon a time %.0s' $(seq 1 60))
  expect_error "prompt past the context" "context" generate -m "$stories" -p "$long" -n 4
  if ! "$alloy" generate -m "$stories" -p "Once upon a time" -n 8 --temp 0 > "$tmp/out" 2> "$tmp/err"; then
    echo "FAIL good run: $(cat "$tmp/err")"
    failures=$((failures + 1))
  elif ! grep -q "Once upon a time" "$tmp/out"; then
    echo "FAIL good run: printed $(cat "$tmp/out")"
    failures=$((failures + 1))
  else
    echo "ok   good run: $(tr '\n' ' ' < "$tmp/out")"
  fi
else
  echo "skipped the model cases: test data absent: $stories"
fi
exit $((failures > 0))
