#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs inside every lab Kubernetes node (lab/k8s.py copies it to /opt/lab-k8s), after
# `control-plane.sh join` put the node's credentials under /etc/kubernetes:
#
#   node.sh up       Debian's containerd (pulling from the lab registry and nothing else),
#                    the kubelet, kube-proxy and the bridge CNI for the node's pod CIDR
#   node.sh release  stop the pods and give back their cgroups and mounts (before the
#                    container is removed: some cgroup v1 hierarchies are the machine's)
#
# Settings from the environment: NODE_NAME, NODE_IP, GATEWAY, CGROUP_ROOT, CLUSTER_DNS,
# POD_CIDR (the cluster's), REGISTRY (host:port), MIRRORED_REGISTRIES, SANDBOX_IMAGE.
# Every workaround this machine needs is named where it is applied.
set -euo pipefail

BIN=/opt/lab-k8s/bin
K8S=/etc/kubernetes
STATE=/etc/lab-k8s

# Boot-time prerequisites, applied again at every start of the container by lab-k8s-net.service.
write_net_service() {
  mkdir -p $STATE
  touch $STATE/routes
  cat >/usr/local/sbin/lab-k8s-net <<EOF
#!/bin/sh
# Mounts propagate into pods; bridged pod traffic passes iptables (kube-proxy).
mount --make-rshared /
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
# The lab network is internal, without a default route; kube-proxy's Service addresses are
# rewritten after routing, so a node-local client needs one to reach them at all.
ip route show default | grep -q . || ip route add default via $GATEWAY dev eth0
# Pod networks of the other nodes (lab.py writes them): "CIDR NODE_IP" lines.
while read -r net via; do [ -n "\$net" ] && ip route replace "\$net" via "\$via"; done <$STATE/routes
true
EOF
  chmod 755 /usr/local/sbin/lab-k8s-net
  cat >/etc/systemd/system/lab-k8s-net.service <<EOF
[Unit]
Description=Network and mount prerequisites of a lab Kubernetes node
Before=containerd.service kubelet.service kube-proxy.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-k8s-net
[Install]
WantedBy=multi-user.target
EOF
}

# cgroup v1: the kubelet gets its own cgroup root, named after the container (unique on the
# machine: in some hierarchies the container sits in the machine's root). Made again before
# every kubelet start, and bind-mounted onto itself (as kind does) so that systemd does not
# prune it while it is still empty.
write_cgroup_script() {
  cat >/usr/local/sbin/lab-k8s-cgroups <<EOF
#!/bin/sh
for h in /sys/fs/cgroup/*/; do
  mountpoint -q "\$h" || continue
  [ "\$h" = /sys/fs/cgroup/unified/ ] && continue
  mkdir -p "\$h$CGROUP_ROOT"
done
cat /sys/fs/cgroup/cpuset/cpuset.cpus >/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.cpus
cat /sys/fs/cgroup/cpuset/cpuset.mems >/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.mems
for h in /sys/fs/cgroup/*/; do
  [ -d "\$h$CGROUP_ROOT" ] && ! mountpoint -q "\$h$CGROUP_ROOT" && mount --bind "\$h$CGROUP_ROOT" "\$h$CGROUP_ROOT"
done
true
EOF
  chmod 755 /usr/local/sbin/lab-k8s-cgroups
}

write_containerd_config() {
  local hosts=/etc/containerd/certs.d registry
  rm -rf "$hosts"
  # The lab registry, and the same registry in place of every public registry an image name
  # may carry: a pull of an image the mirror does not hold fails there, and no public name is
  # ever resolved. containerd 1.6 has no catch-all `_default` (one directory per registry) and
  # ignores a hosts.toml without a [host] table.
  for registry in "$REGISTRY" $MIRRORED_REGISTRIES; do
    mkdir -p "$hosts/$registry"
    cat >"$hosts/$registry/hosts.toml" <<EOF
server = "https://$REGISTRY"
ca = "$STATE/registry-ca.crt"
[host."https://$REGISTRY"]
  capabilities = ["pull", "resolve"]
  ca = "$STATE/registry-ca.crt"
EOF
  done
  cat >/etc/containerd/config.toml <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  # The machine lacks CAP_SYS_RESOURCE even for root: runc cannot lower oom_score_adj
  # ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$hosts"
EOF
}

write_kubelet() {
  mkdir -p /var/lib/kubelet
  # cgroup v1 with podman: the cgroupfs driver, failCgroupV1 off (mandatory from 1.35),
  # no swap check; image garbage collection off (the node's disk is the machine's).
  cat >/var/lib/kubelet/config.yaml <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $K8S/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
failSwapOn: false
failCgroupV1: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
resolvConf: /etc/resolv.conf
tlsCertFile: $K8S/pki/kubelet.crt
tlsPrivateKeyFile: $K8S/pki/kubelet.key
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
protectKernelDefaults: false
EOF
  cat >/etc/systemd/system/kubelet.service <<EOF
[Unit]
Description=kubelet (lab Kubernetes node)
After=containerd.service lab-k8s-net.service
Requires=containerd.service
[Service]
ExecStartPre=/usr/local/sbin/lab-k8s-cgroups
ExecStart=$BIN/kubelet --config=/var/lib/kubelet/config.yaml --kubeconfig=$K8S/kubelet.conf --hostname-override=$NODE_NAME --node-ip=$NODE_IP
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF
}

write_kube_proxy() {
  # iptables mode (Debian's nft backend); conntrack sysctls are the machine's: leave them.
  cat >$K8S/kube-proxy.yaml <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $K8S/kube-proxy.conf}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  cat >/etc/systemd/system/kube-proxy.service <<EOF
[Unit]
Description=kube-proxy (lab Kubernetes node)
After=lab-k8s-net.service
[Service]
ExecStart=$BIN/kube-proxy --config=$K8S/kube-proxy.yaml
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
EOF
}

# The bridge CNI on the pod CIDR the controller-manager gave this node.
write_cni() {
  local cidr=""
  for _ in $(seq 120); do
    cidr=$(kubectl --kubeconfig=$K8S/kubelet.conf get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}' 2>/dev/null || true)
    [[ -n $cidr ]] && break
    sleep 0.5
  done
  if [[ -z $cidr ]]; then
    echo "node $NODE_NAME got no pod CIDR in 60s; journalctl -u kubelet:" >&2
    journalctl -u kubelet --no-pager -n 20 >&2
    exit 1
  fi
  mkdir -p /etc/cni/net.d
  cat >/etc/cni/net.d/10-lab.conflist <<EOF
{
  "cniVersion": "0.4.0",
  "name": "lab",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  echo "node $NODE_NAME: pod CIDR $cidr"
}

up() {
  ln -sf $BIN/* /usr/local/bin/
  write_net_service
  write_cgroup_script
  write_containerd_config
  write_kubelet
  write_kube_proxy
  systemctl daemon-reload
  systemctl enable -q lab-k8s-net containerd kubelet kube-proxy
  systemctl restart lab-k8s-net containerd
  systemctl restart kubelet kube-proxy
  write_cni
}

release() {
  systemctl stop kubelet kube-proxy 2>/dev/null || true
  if systemctl -q is-active containerd; then
    local tasks
    tasks=$(ctr -n k8s.io tasks ls -q 2>/dev/null || true)
    for t in $tasks; do ctr -n k8s.io tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    for _ in $(seq 20); do
      [[ -z $(ctr -n k8s.io tasks ls -q 2>/dev/null | head -1) ]] && break
      for t in $tasks; do ctr -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true; done
      sleep 0.5
    done
    systemctl stop containerd
  fi
  findmnt -rn -o TARGET | grep -F "$CGROUP_ROOT" | sort -r | while read -r m; do umount "$m" || true; done
  for d in /sys/fs/cgroup/*"$CGROUP_ROOT"; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  true
}

case ${1:-} in
  up) up ;;
  release) release ;;
  *)
    echo "usage: node.sh up | release" >&2
    exit 2
    ;;
esac
