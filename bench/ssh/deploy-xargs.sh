#!/usr/bin/env bash
# The plain-bash baseline for the 50-host deploy benchmark: the same job as the ssh driver, with one `ssh`
# session per host, all hosts at once through `xargs -P`. Per host: upload the artifact over stdin, unpack
# into releases/ID via a temp dir + mv, write config.json and .env, switch `current` atomically (temp link +
# mv -T), run the restart command, keep the newest 5 releases.
#
# usage: deploy-xargs.sh HOSTS_FILE KEY KNOWN_HOSTS ARTIFACT RELEASE_ID DEPLOY_PATH PARALLEL
#   HOSTS_FILE: one "user@address port" per line; KNOWN_HOSTS: pinned host keys ([addr]:port ssh-ed25519 ...).
#   SSH_EXTRA_OPTS (environment, optional): more ssh options, e.g. "-o KexAlgorithms=curve25519-sha256".
set -euo pipefail
hosts=$1 key=$2 known=$3 artifact=$4 id=$5 path=$6 parallel=$7

# Remote script: values arrive as positional parameters, never spliced into the script text.
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

extra=${SSH_EXTRA_OPTS:-}
export key known artifact id path remote extra
deploy_one() {
  local target=$1 port=$2
  # shellcheck disable=SC2086 # $extra is a list of options
  ssh -q $extra -i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known" \
      -o ConnectTimeout=10 "$target" "/bin/sh -c '$(printf %s "$remote" | sed "s/'/'\\\\''/g")' sh '$path' '$id'" < "$artifact"
}
export -f deploy_one
xargs -P "$parallel" -L 1 bash -c 'deploy_one "$0" "$1"' < "$hosts"
