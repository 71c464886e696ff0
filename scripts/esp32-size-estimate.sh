#!/usr/bin/env bash
# Size estimate of the firmware's Moddable part (no ESP-IDF): every C file of an esp32c3
# build (the XS engine and platform, Moddable's module C, mote's native/, the linked
# mc.xs.c and mc.resources.c) compiled as ../shared/esp-idf-check compiles it for esp32c3
# (rv32 GCC 12, -Os, function and data sections), then linked with --gc-sections from a
# root that calls what Moddable's main.c calls, so unused code is dropped. ESP-IDF and
# libc are not in the figure (their calls stay unresolved). RISC-V only: the check does
# not assemble Xtensa. README ("Does it fit the 1.5 MB ota_0 slot?") and docs/moddable.md.
#
#   node scripts/esp32-link-check.mjs --board esp32c3 --keep DIR
#   bash scripts/esp32-size-estimate.sh DIR [release|debug]
set -uo pipefail
cd "$(dirname "$0")/.."

linkdir=${1:?usage: esp32-size-estimate.sh LINKDIR [release|debug]}
build=${2:-release}
check=${ESP_IDF_CHECK:-$PWD/../shared/esp-idf-check/check}
moddable=${MODDABLE:?MODDABLE must point at the Moddable SDK}
makefile=$(find "$linkdir/esp32c3-$build/tmp" -name makefile 2>/dev/null | head -1)
[ -n "$makefile" ] || { echo "no esp32c3 $build build in $linkdir (run the link check with --keep first)"; exit 2; }
tmp=$(dirname "$makefile")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# the compile command the check uses for esp32c3 with this build's generated headers
probe=$PWD/test/native/board-config.c
cmd=$("$check" -v -m "$tmp" esp32c3 "$probe" 2>&1 | grep -m1 '^ *riscv64')
[ -n "$cmd" ] || { echo "esp-idf-check printed no esp32c3 compile command"; exit 2; }
pre=${cmd%% -o /dev/null*}
post=${cmd#*-o /dev/null}
post=${post% "$probe"}
defines=()
[ "$build" = debug ] && defines=(-DmxDebug=1 -DmxInstrument=1 -DMODINSTRUMENTATION=1)
includes=$(sed -n '/^DIRECTORIES =/,/^[A-Z]/p' "$makefile" | grep -o '\-I[^ \\]*' | tr '\n' ' ')

sources=()
for f in $(sed -n '/^XS_OBJ =/,/^$/p' "$makefile" | grep -o '[A-Za-z0-9_]*\.c\.o' | sed 's/\.o$//'); do
  for d in "$moddable/xs/sources" "$moddable/xs/platforms/esp" "$moddable/xs/platforms/mc" "$moddable/build/devices/esp32/lib/pow"; do
    if [ -f "$d/$f" ]; then sources+=("$d/$f"); break; fi
  done
done
for s in $(grep -o '^\$(TMP_DIR)/[^ %]*\.c\.o: /[^ ]*\.c' "$makefile" | awk '{print $2}'); do sources+=("$s"); done
sources+=("$moddable/xs/platforms/esp/xsPlatform.c" "$moddable/xs/platforms/esp/xsHost.c" "$moddable/xs/platforms/mc/xsHosts.c" "$tmp/mc.xs.c")
[ -f "$tmp/mc.resources.c" ] && sources+=("$tmp/mc.resources.c")

failed=0
i=0
for s in "${sources[@]}"; do
  i=$((i + 1))
  if ! eval "$pre -o \"$work/$i.o\" $post -w ${defines[*]:-} $includes \"$s\"" >"$work/$i.err" 2>&1; then
    echo "not compiled: $s: $(grep -m1 error "$work/$i.err")"
    failed=$((failed + 1))
  fi
done
cat >"$work/root.c" <<'EOF'
/* what Moddable's main.c (build/devices/esp32/lib/main) calls from its loop task */
typedef struct sxMachine xsMachine;
extern xsMachine *modCloneMachine(void *, void *);
extern void modRunMachineSetup(xsMachine *);
extern void modTimersExecute(void);
extern int modTimersNext(void);
extern void modMessageService(xsMachine *, int);
void mote_size_root(void)
{
	xsMachine *the = modCloneMachine((void *)0, (void *)0);
	modRunMachineSetup(the);
	for (;;) { modTimersExecute(); modMessageService(the, modTimersNext()); }
}
EOF
riscv64-unknown-elf-gcc -march=rv32imc_zicsr_zifencei -mabi=ilp32 -Os -ffunction-sections -c -o "$work/root.o" "$work/root.c" || exit 2
riscv64-unknown-elf-ld -m elf32lriscv --gc-sections --unresolved-symbols=ignore-all --no-warn-rwx-segments -e mote_size_root \
  -o "$work/all.elf" "$work"/*.o || exit 2
read -r text data bss _ < <(riscv64-unknown-elf-size "$work/all.elf" | tail -1)
echo "esp32c3 $build: ${#sources[@]} C files ($failed not compiled), linked with --gc-sections, ESP-IDF and libc left out:"
echo "  code + read-only data: $text bytes, initialised data: $data bytes (bss $bss)"
echo "  flash (code + rodata + data): $((text + data)) bytes of the 1,572,864-byte ota_0 slot; ESP-IDF comes on top"
