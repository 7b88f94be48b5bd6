# Private network for the fault suite: one Linux bridge in the root namespace, one network
# namespace per node (etcd, b0, b1, b2) joined to it by a veth pair, on a /24 that nothing on
# the host routes yet. The root namespace holds the bridge's .1 address, so the suite's own
# clients (producers, monitor, checker) always reach every node. Faults are iptables DROP rules
# inside the node namespaces (never in the root namespace); a cut can be healed rule by rule
# (duplicate rules act as a reference count) or all at once. Everything this module creates is
# named with a per-run prefix and removed by teardown(), which is idempotent.

import ipaddress
import json
import os
import re
import shutil
import subprocess
import threading


class HostUnsupported(Exception):
    """The host cannot run the suite (not root, no `ip`/`iptables`, namespaces refused)."""


def run(args, check=True, input_text=None, timeout=20):
    """Runs a command; returns the CompletedProcess. Raises RuntimeError on failure if check."""
    p = subprocess.run(args, input=input_text, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def check_host():
    """Raises HostUnsupported unless we are root with `ip` and `iptables` available."""
    if os.geteuid() != 0:
        raise HostUnsupported("the fault suite must run as root (network namespaces, iptables)")
    for tool in ("ip", "iptables", "iptables-restore"):
        if shutil.which(tool) is None:
            raise HostUnsupported(f"'{tool}' not found on PATH (install iproute2 / iptables)")


def routed_networks():
    """Every IPv4 network the host already routes or has an address in."""
    nets = []
    out = run(["ip", "-4", "-j", "route", "show", "table", "all"], check=False).stdout
    for r in json.loads(out or "[]"):
        dst = r.get("dst", "default")
        if dst != "default":
            try:
                nets.append(ipaddress.ip_network(dst, strict=False))
            except ValueError:
                pass
    out = run(["ip", "-4", "-j", "addr", "show"], check=False).stdout
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            nets.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
    return nets


def pick_subnet(pid):
    """A 10.x.y.0/24 that overlaps nothing on the host; the start point depends on the pid."""
    taken = routed_networks()
    for i in range(200 * 256):
        k = (pid * 7 + i) % (200 * 256)
        net = ipaddress.ip_network(f"10.{50 + k // 256}.{k % 256}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise HostUnsupported("no free 10.x.y.0/24 subnet on this host")


class Node:
    def __init__(self, name, ns, ip, host_if):
        self.name = name        # "etcd", "b0", ...
        self.ns = ns            # network namespace name
        self.ip = ip            # address inside the namespace
        self.host_if = host_if  # bridge-side end of the veth pair


class Network:
    """The bridge, the namespaces and the cut rules of one run."""

    def __init__(self, prefix, log):
        self.prefix = prefix              # e.g. "sft12345": unique per run
        self.bridge = prefix + "br"
        self.log = log
        self.nodes = {}
        self.subnet = None
        self.root_ip = None
        self._lock = threading.Lock()
        self._created_ns = []
        self._created_links = []

    # ---- setup -------------------------------------------------------------------------
    def setup(self, names, pid):
        """Creates the bridge and one namespace per name; raises HostUnsupported on failure."""
        self.subnet = pick_subnet(pid)
        hosts = list(self.subnet.hosts())
        self.root_ip = str(hosts[0])
        try:
            self._make_bridge()
            for i, name in enumerate(names):
                self._make_node(name, str(hosts[1 + i]), i)
            for node in self.nodes.values():
                run(["ip", "netns", "exec", node.ns, "iptables", "-S", "INPUT"])
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            raise HostUnsupported(f"cannot create namespaces/veths/iptables rules: {e}") from e
        self.log(f"network: bridge {self.bridge} {self.root_ip}/24, "
                 + ", ".join(f"{n.name}={n.ip} ({n.ns})" for n in self.nodes.values()))

    def _make_bridge(self):
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._created_links.append(self.bridge)
        run(["ip", "addr", "add", f"{self.root_ip}/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])

    def _make_node(self, name, ip, index):
        ns = f"{self.prefix}-{name}"
        host_if = f"{self.prefix}h{index}"
        peer_if = f"{self.prefix}p{index}"
        run(["ip", "netns", "add", ns])
        self._created_ns.append(ns)
        run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if])
        self._created_links.append(host_if)
        run(["ip", "link", "set", peer_if, "netns", ns])
        run(["ip", "link", "set", host_if, "master", self.bridge, "up"])
        run(["ip", "-n", ns, "link", "set", peer_if, "name", "eth0"])
        run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self.nodes[name] = Node(name, ns, ip, host_if)

    def exec_prefix(self, name):
        """The argv prefix that runs a command inside node `name`'s namespace."""
        return ["ip", "netns", "exec", self.nodes[name].ns]

    # ---- faults ------------------------------------------------------------------------
    def _apply(self, ns, lines):
        text = "*filter\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"
        run(["ip", "netns", "exec", ns, "iptables-restore", "--noflush"], input_text=text)

    def _rules(self, a, b, symmetric, op):
        """Per namespace, the rule lines that cut (op "-I") or heal (op "-D") a -> b."""
        na, nb = self.nodes[a], self.nodes[b]
        per_ns = {na.ns: [f"{op} OUTPUT -d {nb.ip} -j DROP"],
                  nb.ns: [f"{op} INPUT -s {na.ip} -j DROP"]}
        if symmetric:
            per_ns[na.ns].append(f"{op} INPUT -s {nb.ip} -j DROP")
            per_ns[nb.ns].append(f"{op} OUTPUT -d {na.ip} -j DROP")
        return per_ns

    def _change(self, pairs, symmetric, op):
        per_ns = {}
        for a, b in pairs:
            for ns, lines in self._rules(a, b, symmetric, op).items():
                per_ns.setdefault(ns, []).extend(lines)
        with self._lock:
            for ns, lines in per_ns.items():
                self._apply(ns, lines)

    def cut(self, pairs, symmetric=True):
        """Drops traffic a -> b (and b -> a when symmetric) for every (a, b) in pairs."""
        self._change(pairs, symmetric, "-I")

    def heal(self, pairs, symmetric=True):
        """Removes one copy of the rules cut() added for the same pairs."""
        self._change(pairs, symmetric, "-D")

    def heal_all(self):
        """Removes every rule in every node namespace."""
        with self._lock:
            for node in self.nodes.values():
                run(["ip", "netns", "exec", node.ns, "iptables", "-F", "INPUT"], check=False)
                run(["ip", "netns", "exec", node.ns, "iptables", "-F", "OUTPUT"], check=False)

    def rule_count(self):
        n = 0
        for node in self.nodes.values():
            out = run(["ip", "netns", "exec", node.ns, "iptables", "-S"], check=False).stdout
            n += sum(1 for line in out.splitlines() if line.startswith("-A"))
        return n

    def can_connect(self, src, dst, port, timeout=1.0):
        """Whether node src can open a TCP connection to node dst:port (runs python in src)."""
        code = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1], int(sys.argv[2])),"
                f" {timeout}).close()\nexcept OSError:\n sys.exit(1)\n")
        args = self.exec_prefix(src) + ["/usr/bin/python3", "-c", code,
                                         self.nodes[dst].ip, str(port)]
        return run(args, check=False, timeout=timeout + 10).returncode == 0

    # ---- teardown ----------------------------------------------------------------------
    def teardown(self):
        """Kills whatever still runs in our namespaces and deletes namespaces, veths, bridge."""
        for ns in list(self._created_ns):
            out = run(["ip", "netns", "pids", ns], check=False).stdout
            for pid in out.split():
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
            run(["ip", "netns", "del", ns], check=False)
            self._created_ns.remove(ns)
        for link in reversed(list(self._created_links)):
            run(["ip", "link", "del", link], check=False)
            self._created_links.remove(link)


def sweep_stale(log):
    """Removes namespaces and links left by earlier runs (prefix sft<pid>) whose pid is gone."""
    pat = re.compile(r"^sft(\d+)")
    out = run(["ip", "netns", "list"], check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = pat.match(name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
            run(["ip", "netns", "del", name], check=False)
            log(f"removed stale namespace {name}")
    out = run(["ip", "-j", "link", "show"], check=False).stdout
    for link in json.loads(out or "[]"):
        m = pat.match(link.get("ifname", ""))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            run(["ip", "link", "del", link["ifname"]], check=False)
            log(f"removed stale link {link['ifname']}")
