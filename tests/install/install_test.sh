#!/usr/bin/env bash
# install_test.sh — libvactor as a user gets it: installs a build into a
# temporary prefix (cmake --install --prefix), then outside the tree
#   * compiles each public header alone (they need only each other),
#   * builds examples/counter.c with pkg-config, shared and static, and with
#     a CMake project (find_package(vactor), vactor::vactor and
#     vactor::vactor_static: tests/install/consumer), and runs each build,
#   * checks that libvactor.so has its SONAME and exports exactly the
#     functions of the public headers (nm -D: every symbol va_, none va__),
#   * checks the version everywhere (vactor.pc, the CMake package, vactord
#     --version) and the man page (groff, from groff-base, renders it with
#     no warning and names every option of vactord --help; so does man -l,
#     from man-db, when it is there).
# Usage: install_test.sh BUILD_DIR LIBDIR VERSION CC [SANITIZERS]
#   LIBDIR is CMAKE_INSTALL_LIBDIR (lib, or lib/x86_64-linux-gnu under
#   /usr); in a sanitizer build the programs are built with
#   -fsanitize=SANITIZERS too, as an instrumented libvactor needs.
build=${1:?usage: install_test.sh BUILD_DIR LIBDIR VERSION CC [SANITIZERS]}
libdir_rel=${2:?} version=${3:?} cc=${4:?} sanitize=${5:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/integration/lib.sh"

prefix=$dir/prefix
libdir=$prefix/$libdir_rel
vactord=$prefix/bin/vactord
major=${version%%.*}
san=()
[ -n "$sanitize" ] && san=(-fsanitize="$sanitize")
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
# What the programs and the tools say on stderr goes to $dir/log, which
# finish (lib.sh) searches for sanitizer reports.
log=$dir/log
touch "$log"

check "cmake --install puts the build into the prefix" \
  bash -c "cmake --install '$build' --prefix '$prefix' >>'$log' 2>&1"

# ---- What is installed ----------------------------------------------------
has_files() {
  local f
  for f in "$@"; do
    [ -e "$prefix/$f" ] || { echo "  missing: $f"; return 1; }
  done
}
headers=()
for h in "$src"/include/*.h; do headers+=("${h##*/}"); done
check "the public headers" has_files "${headers[@]/#/include/}"
check "libvactor.a, libvactor.so.$version and its links" has_files \
  "$libdir_rel/libvactor.a" "$libdir_rel/libvactor.so.$version" \
  "$libdir_rel/libvactor.so.$major" "$libdir_rel/libvactor.so"
check "vactor.pc and the CMake package" has_files "$libdir_rel/pkgconfig/vactor.pc" \
  "$libdir_rel/cmake/vactor/vactorConfig.cmake" \
  "$libdir_rel/cmake/vactor/vactorConfigVersion.cmake" \
  "$libdir_rel/cmake/vactor/vactorTargets.cmake"
check "vactord and its man page" has_files bin/vactord share/man/man1/vactord.1
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
check "the SONAME is libvactor.so.$major" \
  test "$(soname "$libdir/libvactor.so.$version")" = "libvactor.so.$major"

# Every public header compiles alone, with nothing but the prefix.
header_alone() {
  printf '#include <%s>\nint main(void) { return 0; }\n' "$1" |
    "$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only \
      -I"$prefix/include" -x c - 2>>"$log"
}
for h in "${headers[@]}"; do
  check "$h compiles on its own" header_alone "$h"
done

# ---- Exported symbols -----------------------------------------------------
exported=$dir/exported declared=$dir/declared
nm -D --defined-only "$libdir/libvactor.so" | awk '{print $NF}' | sort -u >"$exported"
# The functions the headers declare (a declaration starts its line).
grep -hoE '^[A-Za-z_][A-Za-z0-9_ ]*[ *]\**va_[a-z0-9_]+\(' "$prefix"/include/*.h |
  grep -oE 'va_[a-z0-9_]+\($' | tr -d '(' | sort -u >"$declared"
check "libvactor.so exports functions ($(wc -l <"$exported"))" test -s "$exported"
check "every exported symbol starts with va_" bash -c "! grep -v '^va_' '$exported'"
check "no va__ (internal) symbol is exported" bash -c "! grep '^va__' '$exported'"
check "exported = declared in the public headers" diff "$declared" "$exported"

# ---- Versions -------------------------------------------------------------
check "pkg-config --modversion vactor is $version" \
  test "$(pkg-config --modversion vactor)" = "$version"
check "vactord --version prints 'vactord $version'" \
  test "$("$vactord" --version)" = "vactord $version"
check "vactord -h prints the --help text, which names --version" bash -c \
  "'$vactord' -h >'$dir/h' && '$vactord' --help | cmp -s - '$dir/h' && grep -q -- --version '$dir/h'"

# ---- examples/counter.c, built outside the tree --------------------------
# A run is right when it exits 0 and shows the calls' results: alice's
# total before and after idle deactivation, and bob asking alice's.
counter_ok() {
  local out
  out=$("$@" 2>>"$log") || { echo "  $1 exited $?"; return 1; }
  grep -q '^runtime started with [0-9]* threads$' <<<"$out" &&
    [ "$(grep -c '^  alice -> 12$' <<<"$out")" -ge 2 ] &&
    grep -q '^  bob -> 12$' <<<"$out" &&
    grep -q '^state is back after reactivation:$' <<<"$out" ||
    { echo "  unexpected output of $1:"; echo "$out"; return 1; }
}
needs_libvactor_so() { readelf -d "$1" | grep -q "NEEDED.*\[libvactor\.so\.$major\]"; }
bin=$dir/bin
mkdir -p "$bin"
counter=$src/examples/counter.c

# shellcheck disable=SC2046 # pkg-config's output is words
check "pkg-config: counter.c builds against libvactor.so" \
  "$cc" "${san[@]}" "$counter" -o "$bin/counter_shared" $(pkg-config --cflags --libs vactor)
check "  it needs libvactor.so.$major" needs_libvactor_so "$bin/counter_shared"
check "  and runs, with the right output" counter_ok env LD_LIBRARY_PATH="$libdir" "$bin/counter_shared"

# Static: -Bstatic takes libvactor.a for the first -lvactor; --static adds
# what libvactor.a needs; --as-needed drops the second -lvactor (the .so).
# shellcheck disable=SC2046
check "pkg-config --static: counter.c builds against libvactor.a" \
  "$cc" "${san[@]}" "$counter" -o "$bin/counter_static" $(pkg-config --cflags vactor) \
  -Wl,--as-needed -Wl,-Bstatic -lvactor -Wl,-Bdynamic $(pkg-config --static --libs vactor)
check "  it does not need libvactor.so" bash -c "! readelf -d '$bin/counter_static' | grep -q libvactor"
check "  and runs, with the right output" counter_ok "$bin/counter_static"

# CMake: find_package(vactor) from the prefix, both targets.
consumer=$dir/consumer
cmake_flags=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc"
  -DCOUNTER_SOURCE="$counter")
[ -n "$sanitize" ] && cmake_flags+=(-DCMAKE_C_FLAGS="${san[*]}"
  -DCMAKE_EXE_LINKER_FLAGS="${san[*]}")
configure_consumer() { # BUILD-DIR VERSION: the configure's output in BUILD-DIR.log
  cmake -S "$src/tests/install/consumer" -B "$1" "${cmake_flags[@]}" \
    -DVA_WANT_VERSION="$2" >"$1.log" 2>&1
}
found_in_prefix() {
  configure_consumer "$consumer" "$version" &&
    grep -q "vactor $version from $libdir/cmake/vactor\$" "$consumer.log" ||
    { sed 's/^/  /' "$consumer.log"; return 1; }
}
build_consumer() {
  cmake --build "$consumer" >"$consumer-build.log" 2>&1 ||
    { sed 's/^/  /' "$consumer-build.log"; return 1; }
}
check "find_package(vactor $version) finds the prefix's package" found_in_prefix
check "a project links vactor::vactor and vactor::vactor_static" build_consumer
check "  vactor::vactor is libvactor.so" needs_libvactor_so "$consumer/counter_cmake"
check "  the program runs (its RPATH finds the .so), with the right output" \
  counter_ok "$consumer/counter_cmake"
check "  vactor::vactor_static is libvactor.a" \
  bash -c "! readelf -d '$consumer/counter_cmake_static' | grep -q libvactor"
check "  the program runs, with the right output" counter_ok "$consumer/counter_cmake_static"
refuses_next_major() { ! configure_consumer "$dir/consumer-next" $((major + 1)); }
check "find_package(vactor $((major + 1))) does not take version $version" refuses_next_major

# ---- The man page ---------------------------------------------------------
page=$prefix/share/man/man1/vactord.1
groff_quiet() {
  groff -man -Tutf8 -ww -z "$page" >"$dir/groff.err" 2>&1 && [ ! -s "$dir/groff.err" ] ||
    { sed 's/^/  /' "$dir/groff.err"; return 1; }
}
check "groff renders vactord.1 without a warning" groff_quiet
# Plain text: -P -cbou turns off bold, underline and escape sequences.
groff -man -Tascii -P -cbou "$page" 2>/dev/null >"$dir/page.txt"
every_option_in_page() {
  local opt missing=0
  for opt in $("$vactord" --help | grep -oE '^ +(-h, )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
    grep -q -- "$opt" "$dir/page.txt" || { echo "  not in vactord.1: $opt"; missing=1; }
  done
  return "$missing"
}
check "vactord.1 names every option of vactord --help" every_option_in_page
man_renders() {
  MANWIDTH=80 man -l "$page" >"$dir/man.txt" 2>"$dir/man.err" && [ ! -s "$dir/man.err" ] &&
    grep -q '^NAME' "$dir/man.txt" && grep -q 'vactord - the vactor server' "$dir/man.txt" ||
    { sed 's/^/  /' "$dir/man.err"; return 1; }
}
if command -v man >/dev/null; then
  check "man -l renders it (man-db), without a warning" man_renders
fi

finish
