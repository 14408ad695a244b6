#!/usr/bin/env bash
# The plain-bash baseline for the SSH deploy benchmark: the same job as `reconciler apply`, with two `ssh`
# connections per host, all hosts of a batch at once through `xargs -P`. Per host, connection 1: upload the
# artifact over stdin, unpack into releases/ID via a temp dir + mv, render config.json and .env, switch `current`
# atomically (temp link + mv -T), run the restart command, keep the newest 5 releases; connection 2: the health
# check (the restart script records the release it started; the check compares it with ID).
#
# usage: deploy-xargs.sh HOSTS_FILE KEY KNOWN_HOSTS ARTIFACT RELEASE_ID DEPLOY_PATH PARALLEL
#   HOSTS_FILE: one "user@address port" per line; KNOWN_HOSTS: pinned host keys ([addr]:port ssh-ed25519 ...).
#   SSH_EXTRA_OPTS (environment, optional): more ssh options, e.g. "-o KexAlgorithms=curve25519-sha256".
set -euo pipefail
hosts=$1 key=$2 known=$3 artifact=$4 id=$5 path=$6 parallel=$7

# Remote scripts: values arrive as positional parameters, never spliced into the script text.
remote='set -e
P=$1; ID=$2
mkdir -p "$P/releases"; cd "$P"
T="releases/.tmp-$ID.$$"; rm -rf "$T"; mkdir "$T"
cat > "$T.tar.gz"
tar -xzf "$T.tar.gz" -C "$T" --no-same-owner; rm -f "$T.tar.gz"
printf "{\n  \"LOG_LEVEL\": \"info\"\n}\n" > "$T/config.json"
printf "LOG_LEVEL='"'"'info'"'"'\n" > "$T/.env"
rm -rf "releases/$ID"; mv "$T" "releases/$ID"
ln -s "releases/$ID" ".current.tmp.$$"; mv -T ".current.tmp.$$" current
(cd current && RECONCILER_DEPLOY_PATH=$P ./bin/restart >/dev/null 2>&1 </dev/null)
ls -1t releases | tail -n +6 | while read -r old; do rm -rf "releases/$old"; done'
health='test "$(cat "$1/restarted")" = "$2"'

extra=${SSH_EXTRA_OPTS:-}
export key known artifact id path remote health extra
quoted() { printf %s "$1" | sed "s/'/'\\\\''/g"; }
deploy_one() {
  local target=$1 port=$2
  # shellcheck disable=SC2086 # $extra is a list of options
  ssh -q $extra -i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known" \
      -o ConnectTimeout=10 "$target" "/bin/sh -c '$(quoted "$remote")' sh '$path' '$id'" < "$artifact"
  # shellcheck disable=SC2086
  ssh -q $extra -i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known" \
      -o ConnectTimeout=10 "$target" "/bin/sh -c '$(quoted "$health")' sh '$path' '$id'" < /dev/null
}
export -f deploy_one quoted
xargs -P "$parallel" -L 1 bash -c 'deploy_one "$0" "$1"' < "$hosts"
