#!/bin/sh
# fex-muvm: written by fexpkg (`fexpkg teardown` removes it).
# binfmt_misc handler (flags PF) for x86 programs on a kernel whose page size is not 4 KiB: FEX
# needs 4 KiB pages, so the program runs under FEX inside a muvm microVM (4 KiB kernel, the host's
# files shared). The kernel runs `fex-muvm PATH ARGV0 ARGS...`, PATH as the caller named it.
# It makes the program behave as if run natively; muvm's behaviour is cited from its source
# (AsahiLinux/muvm, crates/muvm/src/):
# - muvm starts commands in the user's home (bin/muvm.rs: krun_set_workdir; guest/server.rs and
#   guest/server_worker.rs spawn without a directory) and has no option for another one: a shell
#   in the VM changes to the caller's directory first, and PATH is made absolute.
# - -i always: when a VM already runs, launch.rs without it only asks the VM to start the command
#   and exits 0, with stdin on /dev/null and the output in files inside the VM (server_worker.rs).
# - -t only when stdin, stdout and stderr are all terminals: launch.rs refuses -t unless stdin is
#   one, and server_worker.rs puts stdout and stderr on the same tty.
# - cli_options.rs refuses `--help` and `-h` among the command's arguments, even after `--`: each
#   argument travels with a `+` in front that the shell in the VM removes.
# - server_worker.rs reports a death by signal as status 0: the shell in the VM stays the program's
#   parent and exits 128+N for it, as a shell does.
# - env.rs passes only a fixed list of variables, plus `-e NAME`: every exported variable goes as
#   `-e NAME`, except those naming the host session's sockets and directories, which the VM has its
#   own of (guest/user.rs sets HOME and XDG_RUNTIME_DIR, guest/bin/muvm-guest.rs its X11 and
#   PulseAudio forwarding), and FEX_ROOTFS, which would replace the RootFS muvm gives FEX
#   (guest/mount.rs).
# - argv[0] is lost: FEX's command line (FEX PROGRAM ARGS) has no place for it.
# - What muvm refuses, said in one line with a shell's exit status (127 not found, 126 cannot run):
#   no muvm, no FEX, uid 0 (bin/muvm.rs), no XDG_RUNTIME_DIR (launch.rs).
muvm=/usr/bin/muvm
bindir=/usr/bin
fail() { printf 'fex-muvm: %s\n' "$2" >&2; exit "$1"; }
set -f
[ -x "$muvm" ] || fail 127 "$muvm is missing: install muvm to run x86 programs on this kernel"
if [ -x "$bindir/FEX" ]; then fex=$bindir/FEX
elif [ -x "$bindir/FEXInterpreter" ]; then fex=$bindir/FEXInterpreter
else fail 127 "FEX is missing (no $bindir/FEX nor $bindir/FEXInterpreter): install fex-emu"
fi
if [ -r /proc/self/status ]; then
    while read -r key real effective _; do
        [ "$key" = Uid: ] || continue
        [ "$real" != 0 ] && [ "$effective" != 0 ] ||
            fail 126 "muvm refuses to run as root: run x86 programs as a regular user, not with sudo"
        break
    done </proc/self/status
fi
[ -n "${XDG_RUNTIME_DIR-}" ] ||
    fail 126 "XDG_RUNTIME_DIR is not set: muvm needs a user's login session (not sudo, su, cron or a system service)"
prog=$1
shift
[ $# -eq 0 ] || shift
case $prog in /*) ;; *) prog=$PWD/${prog#./} ;; esac
opts=-i
if [ -t 0 ] && [ -t 1 ] && [ -t 2 ]; then opts="-i -t"; fi
IFS='
'
for line in $(export -p); do
    case $line in "export "*=*) ;; *) continue ;; esac
    name=${line#export }
    name=${name%%=*}
    case $name in
    "" | [0-9]* | *[!A-Za-z0-9_]*) continue ;;
    _ | PWD | OLDPWD | SHLVL | HOME | XDG_RUNTIME_DIR | DISPLAY | XAUTHORITY | WAYLAND_DISPLAY) continue ;;
    DBUS_SESSION_BUS_ADDRESS | PULSE_SERVER | FEX_ROOTFS | MUVM_* | KRUN_*) continue ;;
    esac
    eval "[ -n \"\${$name+set}\" ]" && opts="$opts -e $name"
done
unset IFS
for arg do set -- "$@" "+$arg"; shift; done
vm='dir=$1; shift
for arg do set -- "$@" "${arg#?}"; shift; done
[ -d "$dir" ] && cd "$dir" || { printf "fex-muvm: %s: no such directory in the muvm microVM\n" "$dir" >&2; exit 126; }
trap : HUP INT QUIT TERM
"$@"
exit $?'
exec "$muvm" $opts -- /bin/sh -c "$vm" fex-muvm "$PWD" "+$fex" "+$prog" "$@"
