#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs inside the lab's control-plane node (lab/k8s.py copies it to /opt/lab-k8s):
#
#   control-plane.sh up              the cluster's PKI (kept once made), the kubeconfigs and
#                                    systemd units of etcd, kube-apiserver,
#                                    kube-controller-manager and kube-scheduler; waits for /readyz
#   control-plane.sh join NAME IP    a tar on stdout with what node NAME (address IP) needs:
#                                    the cluster CA, its kubelet's serving certificate and
#                                    kubeconfig, kube-proxy's kubeconfig. The CA key stays here.
#
# Settings from the environment: CLUSTER, NODE_IP, SERVICE_CIDR, POD_CIDR, API_SERVICE_IP.
set -euo pipefail

BIN=/opt/lab-k8s/bin
K8S=/etc/kubernetes
PKI=$K8S/pki
API_URL=https://$NODE_IP:6443

# issue NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]: an EC key and a certificate from
# the cluster CA in $PKI, unless one exists.
issue() {
  local name=$1 subject=$2 eku=$3 san=${4:-}
  [[ -s $PKI/$name.crt ]] && return
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subject" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $eku"
    [[ -n $san ]] && echo "subjectAltName = $san"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
  chmod 600 "$PKI/$name.key"
}

# kubeconfig FILE USER CERT: a kubeconfig for USER authenticating with certificate CERT.
kubeconfig() {
  local file=$1 user=$2 cert=$3
  (
    umask 077
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $CLUSTER
    cluster:
      server: $API_URL
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
      client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
  - name: $user@$CLUSTER
    context: {cluster: $CLUSTER, user: $user}
current-context: $user@$CLUSTER
EOF
  )
}

# unit NAME COMMAND...: a systemd service that keeps COMMAND running; NAME joins $CHANGED when
# its unit is new or different.
CHANGED=()
unit() {
  local name=$1 file=/etc/systemd/system/$1.service
  shift
  cat >"$file.new" <<EOF
[Unit]
Description=$name (lab Kubernetes control plane)
After=network-online.target
[Service]
ExecStart=$*
Restart=always
RestartSec=2
LimitNOFILE=65536
[Install]
WantedBy=multi-user.target
EOF
  if cmp -s "$file.new" "$file" && systemctl -q is-active "$name"; then
    rm "$file.new"
  else
    mv "$file.new" "$file"
    CHANGED+=("$name")
  fi
}

up() {
  local hostname start=$SECONDS
  hostname=$(hostname)
  mkdir -p "$PKI" /var/lib/etcd
  chmod 700 "$PKI" /var/lib/etcd
  ln -sf "$BIN"/* /usr/local/bin/
  if [[ ! -s $PKI/ca.crt ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=$CLUSTER Kubernetes CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
    chmod 600 "$PKI/ca.key"
  fi
  issue apiserver /CN=kube-apiserver serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$hostname,IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$NODE_IP"
  issue apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client/O=system:masters" clientAuth
  issue admin "/CN=kubernetes-admin/O=system:masters" clientAuth
  issue controller-manager /CN=system:kube-controller-manager clientAuth
  issue scheduler /CN=system:kube-scheduler clientAuth
  issue kube-proxy /CN=system:kube-proxy clientAuth
  if [[ ! -s $PKI/sa.key ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$PKI/sa.key"
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
    chmod 600 "$PKI/sa.key"
  fi
  kubeconfig $K8S/admin.conf kubernetes-admin admin
  kubeconfig $K8S/controller-manager.conf system:kube-controller-manager controller-manager
  kubeconfig $K8S/scheduler.conf system:kube-scheduler scheduler
  kubeconfig $K8S/kube-proxy.conf system:kube-proxy kube-proxy
  mkdir -p -m 700 /root/.kube
  cp $K8S/admin.conf /root/.kube/config

  unit etcd "/opt/lab-k8s/etcd/etcd --name=$hostname --data-dir=/var/lib/etcd" \
    "--listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379" \
    "--listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380" \
    "--initial-cluster=$hostname=http://127.0.0.1:2380 --listen-metrics-urls=http://127.0.0.1:2381"
  # --advertise-address: the lab network has no default route to derive it from.
  unit kube-apiserver "$BIN/kube-apiserver --advertise-address=$NODE_IP --secure-port=6443" \
    "--etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range=$SERVICE_CIDR" \
    "--client-ca-file=$PKI/ca.crt --tls-cert-file=$PKI/apiserver.crt --tls-private-key-file=$PKI/apiserver.key" \
    "--kubelet-client-certificate=$PKI/apiserver-kubelet-client.crt --kubelet-client-key=$PKI/apiserver-kubelet-client.key" \
    "--kubelet-preferred-address-types=InternalIP,Hostname" \
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local" \
    "--service-account-key-file=$PKI/sa.pub --service-account-signing-key-file=$PKI/sa.key" \
    "--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true" \
    "--profiling=false"
  unit kube-controller-manager "$BIN/kube-controller-manager --kubeconfig=$K8S/controller-manager.conf" \
    "--authentication-kubeconfig=$K8S/controller-manager.conf --authorization-kubeconfig=$K8S/controller-manager.conf" \
    "--bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true" \
    "--cluster-signing-cert-file=$PKI/ca.crt --cluster-signing-key-file=$PKI/ca.key --root-ca-file=$PKI/ca.crt" \
    "--service-account-private-key-file=$PKI/sa.key --service-cluster-ip-range=$SERVICE_CIDR" \
    "--allocate-node-cidrs=true --cluster-cidr=$POD_CIDR --node-cidr-mask-size=24 --profiling=false"
  unit kube-scheduler "$BIN/kube-scheduler --kubeconfig=$K8S/scheduler.conf" \
    "--authentication-kubeconfig=$K8S/scheduler.conf --authorization-kubeconfig=$K8S/scheduler.conf" \
    "--bind-address=127.0.0.1 --leader-elect=false --profiling=false"
  systemctl daemon-reload
  systemctl enable -q etcd kube-apiserver kube-controller-manager kube-scheduler
  # A rerun restarts what changed (the API server takes a minute to stop).
  ((${#CHANGED[@]} == 0)) || systemctl restart "${CHANGED[@]}"
  for _ in $(seq 180); do
    kubectl get --raw /readyz >/dev/null 2>&1 && {
      echo "control plane ready in $((SECONDS - start))s"
      return
    }
    sleep 0.5
  done
  echo "the API server did not become ready in 90s; journalctl -u kube-apiserver:" >&2
  journalctl -u kube-apiserver --no-pager -n 20 >&2
  exit 1
}

join() {
  local name=$1 ip=$2 dir
  dir=$(mktemp -d)
  issue "kubelet-$name" "/CN=system:node:$name/O=system:nodes" clientAuth
  issue "kubelet-$name-serving" "/CN=$name" serverAuth "DNS:$name,IP:$ip"
  mkdir -p "$dir/pki"
  cp $PKI/ca.crt "$dir/pki/ca.crt"
  cp "$PKI/kubelet-$name-serving.crt" "$dir/pki/kubelet.crt"
  cp "$PKI/kubelet-$name-serving.key" "$dir/pki/kubelet.key"
  kubeconfig "$dir/kubelet.conf" "system:node:$name" "kubelet-$name"
  cp $K8S/kube-proxy.conf "$dir/kube-proxy.conf"
  tar -C "$dir" -c .
  rm -rf "$dir"
}

case ${1:-} in
  up) up ;;
  join) join "$2" "$3" ;;
  *)
    echo "usage: control-plane.sh up | join NAME IP" >&2
    exit 2
    ;;
esac
