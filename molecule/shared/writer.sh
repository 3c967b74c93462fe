#!/usr/bin/env bash
# A client that keeps inserting numbered rows into TABLE (id INT PRIMARY KEY, host VARCHAR), one
# connection per row (as W&B's pool reconnects after an error), with W&B's
# login from /root/.wandb-client.cnf over TLS. On an error it retries the same
# row on the next of its targets (one target: the floating writer address, which
# follows the primary; two: the servers' own addresses). A row counts as
# committed only once a server acknowledged it (a duplicate key on a retry means
# an earlier attempt committed). Run: writer.sh DIR TABLE TARGET...; touch DIR/stop
# to end it, DIR/stopped appears then. DIR/ok: "id epoch target" per
# acknowledged row; DIR/err: "id epoch target error" per failed attempt.
# WRITER_BIND (optional): the client host's own address to connect from, as a
# client on another host would. Without it a client on the host that holds the
# floating address connects from that address too, and once the address moves
# both ends of its connection belong to the other host: the attempt hangs. An
# attempt that gets no answer within WRITER_ATTEMPT_SECONDS (10) fails (as a
# driver's read timeout does) and the row is retried.
set -u
dir=$1
table=$2
shift 2
targets=("$@")
bind=()
[ -n "${WRITER_BIND:-}" ] && bind=(--bind-address="$WRITER_BIND")
attempt=${WRITER_ATTEMPT_SECONDS:-10}
cur=0
i=0
: > "$dir/ok"
: > "$dir/err"
while [ ! -e "$dir/stop" ]; do
  i=$((i + 1))
  while [ ! -e "$dir/stop" ]; do
    h=${targets[$cur]}
    out=$(timeout "$attempt" mysql --defaults-extra-file=/root/.wandb-client.cnf "${bind[@]}" -h "$h" --protocol=TCP \
          --connect-timeout=2 -N -B -e "INSERT INTO $table (id, host) VALUES ($i, '$h')" 2>&1)
    rc=$?
    [ $rc -eq 124 ] && out="no answer within $attempt s"
    if [ $rc -eq 0 ] || [[ $out == *"Duplicate entry"* ]]; then
      echo "$i $(date +%s.%N) $h" >> "$dir/ok"
      break
    fi
    echo "$i $(date +%s.%N) $h ${out//$'\n'/ }" >> "$dir/err"
    cur=$(((cur + 1) % ${#targets[@]}))
    sleep 0.05
  done
done
touch "$dir/stopped"
