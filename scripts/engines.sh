#!/usr/bin/env bash
# Installs and starts further engines for the bridge besides the local (rootful) dockerd: Podman's
# Docker-compatible API service, rootful or rootless, and a rootless dockerd (run as root on Debian, without
# systemd), and copies the sandbox image into each from the local dockerd. Idempotent: a service that answers is
# left as it is, an image whose ID matches Docker's is not copied again. Only the engine's DOCKER_HOST (and, for
# rootless, the user) goes to stdout; the log goes to stderr.
#
#   export $(scripts/engines.sh podman-rootful | tail -n1)     # DOCKER_HOST=unix:///run/podman/podman.sock
#   scripts/engines.sh podman-rootless [USER]                   # default USER: mcp-bridge-rootless
#   scripts/engines.sh docker-rootless [USER]                   # default USER: mcp-bridge-rootless
#   scripts/engines.sh stop [podman-rootful|podman-rootless [USER]|docker-rootless [USER]]
#                                                               # only the services this script started
#
# Env: MCP_BRIDGE_IMAGE (default mcp-bridge/sandbox:bookworm), the image copied from dockerd;
#      DOCKERD_ROOTLESS_ROOTLESSKIT_NET (default host), the network of rootless dockerd: see docker_rootless.
set -euo pipefail
log() { printf '[engines] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

image="${MCP_BRIDGE_IMAGE:-mcp-bridge/sandbox:bookworm}"
state=/run/mcp-bridge            # pid files: tmpfs, so a reboot forgets services that no longer exist
rootful_sock=/run/podman/podman.sock
path_env=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

[ "$(id -u)" = 0 ] || die "run as root (it installs packages, creates a user and starts services)"

# The source engine is the local dockerd, whatever DOCKER_HOST the caller exported (maybe a Podman socket
# printed by this script); podman itself must not go remote through CONTAINER_HOST either.
docker_local() { env -u DOCKER_HOST -u DOCKER_CONTEXT docker "$@"; }
podman_root=(env -u CONTAINER_HOST -u CONTAINER_CONNECTION podman)
podman_local() { "${podman_root[@]}" "$@"; }

ping_ok() { [ "$(curl -s --max-time 2 --unix-socket "$1" http://d/_ping 2>/dev/null)" = OK ]; }

# A pid file's process, if it is still the service the file's name says (not a pid reused by something else):
# a podman API service, or the rootlesskit that runs a rootless dockerd.
service_pid() {
    local pid pattern='podman.* system service'
    [ -f "$1" ] || return 1
    case "$(basename "$1")" in docker-rootless.*) pattern='rootlesskit.*dockerd-rootless\.sh' ;; esac
    pid="$(cat "$1")"
    [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -q "$pattern" || return 1
    printf '%s\n' "$pid"
}

install_podman() {
    local missing=()
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
    command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
    command -v fuse-overlayfs >/dev/null 2>&1 || missing+=(fuse-overlayfs)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
}

# Without ulimits in a request Podman asks runc for nofile and nproc of 1048576; where root lacks
# CAP_SYS_RESOURCE (this kind of VM) runc cannot raise its hard limits to that and every such container fails
# ("error setting rlimit type 7: operation not permitted"). Default to the highest the engine can set instead.
# Podman uses these only when a request sets no ulimit at all (one given ulimit replaces the whole list).
configure_ulimits() {
    local conf=/etc/containers/containers.conf.d/mcp-bridge.conf nofile nproc want
    nofile="$(ulimit -Hn)"
    nproc="$(ulimit -Hu)"
    # Podman's processes run with RLIMIT_NPROC at the kernel's pid_max (32768 here, not root's 96369), and its
    # containers cannot get more.
    local pid_max
    pid_max="$(cat /proc/sys/kernel/pid_max)"
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc="$pid_max"; fi
    [ "$nofile" = unlimited ] && nofile=1048576
    want="$(printf '# Written by mcp-bridge scripts/engines.sh: see configure_ulimits there.\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
        "$nofile" "$nofile" "$nproc" "$nproc")"
    [ "$(cat "$conf" 2>/dev/null)" = "$want" ] && return
    log "writing $conf (default ulimits nofile=$nofile nproc=$nproc)"
    mkdir -p "$(dirname "$conf")"
    printf '%s\n' "$want" > "$conf"
}

# Copies the image from dockerd when the engine lacks it or has another ID (the IDs survive save/load).
# $1: how to run podman (or the docker CLI: the same commands) for this engine (a function name).
copy_image() {
    local run_podman="$1" want have
    command -v docker >/dev/null 2>&1 || die "docker CLI is missing: the image is copied from dockerd"
    # Docker's IDs start with "sha256:", Podman's do not.
    want="$(docker_local image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    want="${want#sha256:}"
    have="$("$run_podman" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    have="${have#sha256:}"
    if [ -z "$want" ]; then
        [ -n "$have" ] || die "dockerd has no $image (scripts/setup.sh builds it) and neither has this engine"
        log "dockerd has no $image; keeping the engine's ${have:0:12}"
        return
    fi
    if [ "$want" = "$have" ]; then
        log "$image is up to date (${want:0:12})"
        return
    fi
    log "copying $image (${want:0:12}) from dockerd"
    docker_local save "$image" | "$run_podman" load -q >&2
    # The replaced copy, now untagged; kept when a container still uses it.
    [ -z "$have" ] || "$run_podman" rmi "$have" >/dev/null 2>&1 || true
}

# Starts a service (`podman system service`, rootless dockerd) unless its socket answers, then waits for it to
# answer. $1: socket, $2: pid file, $3: log file, $4...: the command that runs it, listening on the socket (as root
# or as the user).
start_service() {
    local sock="$1" pidfile="$2" logfile="$3" pid start i
    shift 3
    if ping_ok "$sock"; then
        log "the service on $sock answers"
        return
    fi
    start="$(date +%s%N)"
    if pid="$(service_pid "$pidfile")"; then
        log "waiting for the service (pid $pid) on $sock"
    else
        # A socket file left by a service that died would not answer; the service binds anew.
        rm -f "$sock"
        mkdir -p "$state"
        # setsid: the service outlives this script and the caller's terminal. `exec` keeps $! the service's pid.
        (cd / && exec setsid "$@" >>"$logfile" 2>&1 </dev/null) &
        pid=$!
        printf '%s\n' "$pid" > "$pidfile"
        log "started the service (pid $pid, log $logfile)"
    fi
    for i in $(seq 1 600); do
        ping_ok "$sock" && break
        kill -0 "$pid" 2>/dev/null || die "the service exited; see $logfile"
        [ "$i" -lt 600 ] || die "no answer on $sock after 30 s; see $logfile"
        sleep 0.05
    done
    log "the service answers on $sock after $(( ($(date +%s%N) - start) / 1000000 )) ms"
}

# A hardened container through the service (its libpod API, whose errors are clearer than the docker CLI's):
# the engine runs containers, not only answers.
smoke_test() {
    local sock="$1" out
    out="$(podman_local --url "unix://$sock" run --rm --network=none --read-only --cap-drop=all \
        --security-opt=no-new-privileges --user 65534:65534 --ulimit nofile=256:256 --ulimit nproc=64:64 \
        "$image" python3 -c 'print(1)' 2>&1)" || die "a test container failed on $sock: $out"
    [ "$out" = 1 ] || die "a test container on $sock printed: $out"
    log "a hardened test container ran on $sock"
}

rootful() {
    install_podman
    configure_ulimits
    mkdir -p "$(dirname "$rootful_sock")"
    start_service "$rootful_sock" "$state/podman-rootful.pid" /var/log/podman-service.log \
        "${podman_root[@]}" system service --time=0 "unix://$rootful_sock"
    copy_image podman_local
    smoke_test "$rootful_sock"
    printf 'DOCKER_HOST=unix://%s\n' "$rootful_sock"
}

# Rootless: Podman (or dockerd) in a user namespace of an unprivileged user, its uids mapped from /etc/subuid and
# /etc/subgid.
user="" uid="" gid="" home=""
gecos="mcp-bridge rootless Podman"   # marks the user this script created (for rootless dockerd too)
as_user=()
set_user() {
    user="$1"
    uid="$(id -u "$user")"
    gid="$(id -g "$user")"
    home="$(getent passwd "$user" | cut -d: -f6)"
    # No login session (no systemd): HOME and XDG_RUNTIME_DIR by hand, and a clean environment.
    as_user=(setpriv --reuid="$uid" --regid="$gid" --init-groups env -i HOME="$home" USER="$user" LOGNAME="$user"
        PATH="$path_env" XDG_RUNTIME_DIR="/run/user/$uid")
}
# In a directory the user can read: podman resolves its working directory.
podman_user() { (cd "$home" && exec "${as_user[@]}" podman "$@"); }

# Appends a range of 65536 ids after the highest one in use when FILE has none of at least that for the user.
ensure_subids() {
    local file="$1" start
    if awk -F: -v u="$user" -v id="$uid" '($1 == u || $1 == id) && $3 >= 65536 { found = 1 } END { exit !found }' \
        "$file" 2>/dev/null; then
        return
    fi
    start="$(awk -F: 'BEGIN { next_id = 100000 } $2 + $3 > next_id { next_id = $2 + $3 } END { print next_id }' \
        "$file" 2>/dev/null || echo 100000)"
    log "adding $user:$start:65536 to $file"
    printf '%s:%s:65536\n' "$user" "$start" >> "$file"
}

# Native overlayfs for the user's images. Left to itself rootless Podman picks fuse-overlayfs when installed,
# and where /dev/fuse is root-only (this kind of VM: mode 600, no udev) it falls back to vfs, which copies the
# whole image (120 MB) for every container. Kernels from 5.13 on mount overlayfs in a user namespace.
rootless_storage() {
    local pidfile="$1" conf="$home/.config/containers/storage.conf" driver
    if [ ! -e "$conf" ]; then
        log "writing $conf (driver overlay)"
        (cd "$home" && "${as_user[@]}" mkdir -p "$(dirname "$conf")")
        printf '# Written by mcp-bridge scripts/engines.sh: see rootless_storage there.\n[storage]\ndriver = "overlay"\n' \
            > "$conf"
        chown "$uid:$gid" "$conf"
    fi
    driver="$(podman_user info --format '{{.Store.GraphDriverName}}' 2>/dev/null)" || true
    [ "$driver" = overlay ] && return
    # A store made with another driver does not open with overlay: it has to be emptied, which only this
    # script's own user may be (its images are copies of dockerd's).
    [ "$(getent passwd "$user" | cut -d: -f5)" = "$gecos" ] \
        || die "the Podman storage of $user is not on overlay ($driver); run podman system reset as $user"
    log "resetting the Podman storage of $user (was: $driver)"
    [ ! -e "$pidfile" ] || stop_pidfile "$pidfile"
    podman_user system reset --force >&2
}

# The user (created when missing), its subordinate ids and its XDG_RUNTIME_DIR, /run/user/UID.
# $1: the user (default mcp-bridge-rootless).
setup_user() {
    user="${1:-mcp-bridge-rootless}"
    if ! id "$user" >/dev/null 2>&1; then
        log "creating user $user"
        useradd --create-home --shell /usr/sbin/nologin --comment "$gecos" "$user"
    fi
    set_user "$user"
    [ -d "$home" ] || { mkdir -p "$home"; chown "$uid:$gid" "$home"; chmod 700 "$home"; }
    # useradd adds subordinate ids only with SUB_UID_COUNT set and the files present; check rather than trust.
    ensure_subids /etc/subuid
    ensure_subids /etc/subgid
    install -d -m 700 -o "$uid" -g "$gid" "/run/user/$uid"
}

rootless() {
    install_podman
    configure_ulimits
    setup_user "${1:-}"
    local runtime_dir="/run/user/$uid"
    local sock="$runtime_dir/podman/podman.sock" pidfile="$state/podman-rootless.$user.pid"
    install -d -m 700 -o "$uid" -g "$gid" "$runtime_dir/podman"
    rootless_storage "$pidfile"
    # The service's log, opened by root before the service drops to the user.
    start_service "$sock" "$pidfile" "/var/log/podman-rootless-$user.log" \
        "${as_user[@]}" podman system service --time=0 "unix://$sock"
    copy_image podman_user
    smoke_test "$sock"
    printf 'USER=%s UID=%s\n' "$user" "$uid"
    printf 'DOCKER_HOST=unix://%s\n' "$sock"
}

# Rootless dockerd: Docker's dockerd-rootless.sh (docker.io's contrib) runs dockerd under rootlesskit, in a user
# namespace of the same kind of user as rootless Podman (by default the same user: the two engines keep apart,
# Podman under ~/.local/share/containers and $XDG_RUNTIME_DIR/podman, dockerd under ~/.local/share/docker and
# $XDG_RUNTIME_DIR/docker, and both map the user's subordinate ids).
dockerd_rootless=/usr/share/docker.io/contrib/dockerd-rootless.sh

install_docker_rootless() {
    local net="$1" missing=()
    [ -x "$dockerd_rootless" ] && command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker >/dev/null 2>&1 || missing+=(docker.io)
    command -v rootlesskit >/dev/null 2>&1 || missing+=(rootlesskit)
    command -v newuidmap >/dev/null 2>&1 || missing+=(uidmap)
    [ "$net" != slirp4netns ] || command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
    [ -x "$dockerd_rootless" ] || die "docker.io installs no $dockerd_rootless here"
}

# The docker CLI as the user, on its rootless dockerd ($docker_user_host), from a directory the user can read.
docker_user_host=""
docker_user() { (cd "$home" && exec "${as_user[@]}" DOCKER_HOST="$docker_user_host" docker "$@"); }

# The hardened test container, through the docker CLI (the same as in smoke_test).
docker_smoke_test() {
    local out
    out="$(docker_user run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
        --user 65534:65534 "$image" python3 -c 'print(1)' 2>&1)" \
        || die "a test container failed on $docker_user_host: $out"
    [ "$out" = 1 ] || die "a test container on $docker_user_host printed: $out"
    log "a hardened test container ran on $docker_user_host"
}

# Rootlesskit's network. Its default, slirp4netns, needs a tap device in the daemon's network namespace, and
# where /dev/net/tun is root-only (this kind of VM: mode 600, no udev) the user's namespace cannot open it
# ("setting up tap tap0: ... ip tuntap add name tap0 mode tap: exit status 1"). The bridge's sandboxes only ever
# have network none, so the daemon needs no network of its own: by default (DOCKERD_ROOTLESS_ROOTLESSKIT_NET
# unset) "host", rootlesskit making no network namespace; then dockerd, without CAP_NET_ADMIN in the host's
# namespace, can make neither iptables rules nor the docker0 bridge (--iptables=false --bridge=none), and only
# --network none (and host: the host's network, unprivileged) is there for containers. slirp4netns (or vpnkit,
# lxc-user-nic) when DOCKERD_ROOTLESS_ROOTLESSKIT_NET says so, as dockerd-rootless.sh reads it.
docker_rootless() {
    local net="${DOCKERD_ROOTLESS_ROOTLESSKIT_NET:-host}"
    install_docker_rootless "$net"
    setup_user "${1:-}"
    local runtime_dir="/run/user/$uid"
    local sock="$runtime_dir/docker.sock" pidfile="$state/docker-rootless.$user.pid"
    docker_user_host="unix://$sock"
    local env=(PATH="/usr/share/docker.io/contrib:$path_env" DOCKERD_ROOTLESS_ROOTLESSKIT_NET="$net")
    local dockerd_args=(--data-root "$home/.local/share/docker" -H "unix://$sock")
    if [ "$net" = host ]; then
        # No MTU with the host's network (rootlesskit warns about dockerd-rootless.sh's 1500), no port driver.
        env+=(DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=0 DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=none)
        dockerd_args+=(--iptables=false --bridge=none)
    fi
    # The daemon's log (with dockerd-rootless.sh's trace), opened by root before the daemon drops to the user.
    start_service "$sock" "$pidfile" "/var/log/docker-rootless-$user.log" \
        "${as_user[@]}" "${env[@]}" "$dockerd_rootless" "${dockerd_args[@]}"
    copy_image docker_user
    docker_smoke_test
    printf 'USER=%s UID=%s\n' "$user" "$uid"
    printf 'DOCKER_HOST=unix://%s\n' "$sock"
}

# Stops the service of one pid file (and forgets it).
stop_pidfile() {
    local pidfile="$1" pid name
    name="$(basename "$pidfile" .pid)"
    if pid="$(service_pid "$pidfile")"; then
        # The whole process group (setsid made the service its leader): rootless podman re-executes itself in a
        # user namespace, and that child, the real service, outlives a SIGTERM to its parent. The rootless pause
        # process (its own group, it holds the namespace) and the containers' conmon are left alone. Rootless
        # dockerd: rootlesskit, its child in the namespace and dockerd (which stops its containerd).
        log "stopping $name (process group $pid)"
        kill -TERM -- "-$pid"
        for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 -- "-$pid" 2>/dev/null; then
            log "$name (process group $pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL -- "-$pid"
        fi
    else
        log "$name is not running"
    fi
    rm -f "$pidfile"
}

stop_services() {
    local which="${1:-}" only_user="${2:-}" pidfile name stopped=0
    case "$which" in
        ""|podman-rootful|podman-rootless|docker-rootless) ;;
        *) die "stop: unknown engine $which (podman-rootful, podman-rootless or docker-rootless)" ;;
    esac
    for pidfile in "$state"/podman-rootful.pid "$state"/podman-rootless.*.pid "$state"/docker-rootless.*.pid; do
        [ -e "$pidfile" ] || continue
        name="$(basename "$pidfile" .pid)"
        [ -z "$which" ] || [ "${name%%.*}" = "$which" ] || continue
        [ -z "$only_user" ] || [ "$name" = "$which.$only_user" ] || continue
        stop_pidfile "$pidfile"
        stopped=1
    done
    [ "$stopped" = 1 ] || log "no ${which:-engine} service${only_user:+ of $only_user} started by this script"
}

case "${1:-}" in
    podman-rootful) rootful ;;
    podman-rootless) rootless "${2:-}" ;;
    docker-rootless) docker_rootless "${2:-}" ;;
    stop) stop_services "${2:-}" "${3:-}" ;;
    *) die "usage: $0 podman-rootful | podman-rootless [USER] | docker-rootless [USER] |" \
        "stop [podman-rootful | podman-rootless [USER] | docker-rootless [USER]]" ;;
esac
