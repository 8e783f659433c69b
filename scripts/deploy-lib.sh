# Shared by scripts/install, scripts/update and scripts/rollback (sourced, not run).
#
# Layout under $KIOSK_ROOT (empty on a real kiosk; a temporary folder in tests):
#   /opt/kiosk/releases/<version>/   verified copies of releases (read-only, root)
#   /opt/kiosk/current, previous     symbolic links to releases/<version>, switched atomically
#   /opt/kiosk/deploy.log            what was installed, updated, rolled back, when
#   /etc/kiosk/site.toml             the site configuration
#   /etc/kiosk/release-signing.pub   the only key releases are trusted with
#   /etc/kiosk/tls/                  the kiosk's TLS key and certificates for the core
#   /var/lib/kiosk/                  database and keys (owner kiosk, 0700)
set -euo pipefail

ROOT="${KIOSK_ROOT:-}"
OPT="$ROOT/opt/kiosk"
ETC="$ROOT/etc/kiosk"
DATA="$ROOT/var/lib/kiosk"
UNIT_DIR="$ROOT/etc/systemd/system"
TRUSTED_KEY="$ETC/release-signing.pub"
KIOSK_USER=kiosk
UNIT=kiosk.service
READY_TIMEOUT="${KIOSK_READY_TIMEOUT:-120}"
KEEP_RELEASES=3

log() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_root() {
    [ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
}

record() {
    mkdir -p "$OPT"
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$OPT/deploy.log"
}

# Checks a release folder against a trusted public key with the system's openssl and
# sha256sum, never with the binary inside the release: the signature of SHA256SUMS, every
# listed file's hash, no path outside the folder, no file or link that is not listed.
verify_release() {
    local dir="$1" key="$2"
    [ -f "$key" ] || die "no trusted release key at $key"
    [ -f "$dir/SHA256SUMS" ] && [ -f "$dir/SHA256SUMS.sig" ] \
        || die "$dir is not a signed release (no SHA256SUMS / SHA256SUMS.sig): refusing it"
    openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in "$dir/SHA256SUMS" \
        -sigfile "$dir/SHA256SUMS.sig" >/dev/null 2>&1 \
        || die "$dir: the signature does not match the trusted key $key: refusing an altered or foreign release"
    if grep -Ev '^[0-9a-f]{64}  [A-Za-z0-9._+/-]+$' "$dir/SHA256SUMS" >/dev/null \
        || awk '{print $2}' "$dir/SHA256SUMS" | grep -Eq '(^/|(^|/)\.\.(/|$))'; then
        die "$dir/SHA256SUMS has a malformed line or a path outside the release"
    fi
    (cd "$dir" && sha256sum --check --strict --quiet SHA256SUMS >/dev/null 2>&1) \
        || die "$dir: a file does not match its signed hash (altered or damaged release)"
    if [ -n "$(find "$dir" ! -type f ! -type d -print -quit)" ]; then
        die "$dir holds a link or special file; a release is plain files"
    fi
    local unlisted
    unlisted="$(comm -23 <(cd "$dir" && find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig -printf '%P\n' | LC_ALL=C sort) \
        <(awk '{print $2}' "$dir/SHA256SUMS" | LC_ALL=C sort))"
    [ -z "$unlisted" ] || die "$dir holds files that are not signed: $unlisted"
}

version_of() {
    local v
    v="$(tr -d '[:space:]' <"$1/VERSION" 2>/dev/null)" || die "$1 has no VERSION file"
    [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+.][0-9A-Za-z.]+)?$ ]] || die "$1/VERSION: '$v' is not a version"
    printf '%s' "$v"
}

# The version a link (current, previous) points at, or nothing.
linked_version() {
    local target
    target="$(readlink "$OPT/$1" 2>/dev/null)" || return 0
    basename "$target"
}

# True when version $1 is older than $2.
version_lt() {
    [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]
}

# Copies a verified release to releases/<version> (through a temporary folder, so a
# half-copied release never has the final name); an existing copy is re-verified, and
# replaced when it was tampered with.
stage_release() {
    local dir="$1" version="$2" target="$OPT/releases/$2"
    mkdir -p "$OPT/releases"
    if [ -d "$target" ]; then
        if (verify_release "$target" "$TRUSTED_KEY") 2>/dev/null; then
            log "release $version already installed and intact"
            return 0
        fi
        log "installed copy of $version is damaged: replacing it"
        rm -rf "$target"
    fi
    local tmp="$OPT/releases/.staging-$version"
    rm -rf "$tmp"
    cp -r "$dir" "$tmp"
    chmod -R go-w "$tmp"
    verify_release "$tmp" "$TRUSTED_KEY"
    settle
    mv -T "$tmp" "$target"
    settle
}

# Points $OPT/<name> at releases/<version> in one rename.
switch_link() {
    local name="$1" version="$2"
    ln -sfn "releases/$version" "$OPT/.$name.new"
    mv -Tf "$OPT/.$name.new" "$OPT/$name"
    settle
}

# Installs release <version>'s unit file through a rename, so that a power cut leaves the old
# unit or the new one, never an empty file (which systemd reads as a masked unit: the kiosk
# would not start at boot). Then flushes everything switched so far to the disk.
install_unit() {
    local version="$1"
    mkdir -p "$UNIT_DIR"
    install -m 0644 "$OPT/releases/$version/deploy/kiosk.service" "$UNIT_DIR/.$UNIT.new"
    sync "$UNIT_DIR/.$UNIT.new" 2>/dev/null || sync
    mv -Tf "$UNIT_DIR/.$UNIT.new" "$UNIT_DIR/$UNIT"
    settle
}

# Writes what the script changed to the disk before anything depends on it: a kiosk loses
# power at any moment, and ext4 keeps new files' data in memory for up to 30 s.
settle() {
    sync
}

# Deletes old releases, keeping current, previous and the newest $KEEP_RELEASES.
prune_releases() {
    local keep_current keep_previous
    keep_current="$(linked_version current)"
    keep_previous="$(linked_version previous)"
    local v
    for v in $(ls -1 "$OPT/releases" | grep -v '^\.' | sort -V | head -n -"$KEEP_RELEASES"); do
        if [ "$v" != "$keep_current" ] && [ "$v" != "$keep_previous" ]; then
            rm -rf "${OPT:?}/releases/$v"
            log "removed old release $v"
        fi
    done
}

# host:port of /readyz, from [health] listen in site.toml (default 127.0.0.1:9187).
health_address() {
    local addr=""
    if [ -f "$ETC/site.toml" ]; then
        addr="$(awk '/^\[/{s=$0} s=="[health]" && /^[[:space:]]*listen[[:space:]]*=/{gsub(/.*=[[:space:]]*"|".*/,""); print; exit}' "$ETC/site.toml")"
    fi
    printf '%s' "${addr:-127.0.0.1:9187}"
}

# One GET /readyz over bash's /dev/tcp (no curl needed on the kiosk); true on 200.
probe_ready() {
    local addr="$1" host port line
    host="${addr%:*}"
    port="${addr##*:}"
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        printf 'GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$addr" >&3
        IFS= read -r -t 5 line <&3 || exit 1
        [[ "$line" == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}

wait_ready() {
    local addr deadline
    addr="$(health_address)"
    deadline=$((SECONDS + READY_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if probe_ready "$addr"; then
            log "service ready ($addr/readyz)"
            return 0
        fi
        sleep 1
    done
    log "service not ready at $addr/readyz after ${READY_TIMEOUT}s"
    return 1
}

restart_and_wait() {
    systemctl restart "$UNIT" && wait_ready
}
