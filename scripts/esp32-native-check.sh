#!/usr/bin/env bash
# ESP32 native compile check: every C file under native/ (and test/native/board-config.c,
# which asserts the board settings mote relies on) compiled against the real ESP-IDF
# v6.0.2 headers for esp32, esp32s3 and esp32c3, the way Moddable's make.esp32.mk
# compiles module C files, with each board's sdkconfig fragment and warnings as errors.
# No ESP-IDF install and no linking: ../shared/esp-idf-check/check (its README says what a
# PASS shows and what it does not).
#
#   bash scripts/esp32-native-check.sh [LINKDIR]
#
# LINKDIR: the folder `node scripts/esp32-link-check.mjs --keep LINKDIR` filled. When it
# holds a board's release build, the files are compiled with that build's generated
# mc.defines.h / mc.xs.h (-m), and the linked archive mc.xs.c itself is compiled too.
# Environment: ESP_IDF_CHECK (default ../shared/esp-idf-check/check from the repository).
# Exit status 0 when every file passes for every board, 1 otherwise, 2 on a setup error.
# Last line: "esp32 native check: PASS" or "esp32 native check: FAIL (...)".
set -uo pipefail
cd "$(dirname "$0")/.."

check=${ESP_IDF_CHECK:-$PWD/../shared/esp-idf-check/check}
linkdir=${1:-}
if [ ! -x "$check" ]; then
  echo "esp32 native check: FAIL (no esp-idf-check at $check; set ESP_IDF_CHECK)"
  exit 2
fi

mapfile -t files < <(find native -name '*.c' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "esp32 native check: FAIL (no C file under native/)"
  exit 2
fi
files+=(test/native/board-config.c)

failed=()
for board in esp32 esp32s3 esp32c3; do
  fragment=boards/$board/sdkconfig/sdkconfig.defaults
  [ -f "$fragment" ] || { echo "missing $fragment"; failed+=("$board"); continue; }
  generated=()
  if [ -n "$linkdir" ]; then
    header=$(find "$linkdir/$board-release/tmp" -name mc.xs.h 2>/dev/null | head -1)
    if [ -n "$header" ]; then
      generated=(-m "$(dirname "$header")")
    else
      echo "note: no linked release build of $board in $linkdir: compiled with the stub mc.defines.h"
    fi
  fi
  echo "== $board: ${files[*]}${generated:+ (-m ${generated[1]})}"
  "$check" --werror -s "$fragment" "${generated[@]}" "$board" "${files[@]}" || failed+=("$board")
  if [ ${#generated[@]} -gt 0 ]; then
    echo "== $board: the linked archive mc.xs.c"
    "$check" --werror "${generated[@]}" "$board" "${generated[1]}/mc.xs.c" || failed+=("$board mc.xs.c")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "esp32 native check: FAIL (${failed[*]})"
  exit 1
fi
echo "esp32 native check: PASS"
