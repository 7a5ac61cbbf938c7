//! The three-namespace oracle topology: client — firewall — server.
//!
//! ```text
//!  client               fw                          server
//!  eth0 ──────────── eth0        eth1 ───────────── eth0
//!  10.0.1.2/24       10.0.1.1/24  10.0.2.1/24       10.0.2.2/24
//!  fd00:1::2/64      fd00:1::1/64 fd00:2::1/64      fd00:2::2/64
//! ```
//!
//! Client and server route everything through the firewall, which forwards
//! (IPv4 and IPv6). MAC addresses are fixed so link-local addresses, and therefore
//! the recorded `host.json`, are the same on every run. All namespaces are
//! deleted when the [`Topo`] is dropped.
//!
//! Noise control, so the capture and the kernel's counters see the same packets:
//! DAD is off (addresses usable at once, no NS bursts), router solicitations are
//! off, MLD unsolicited reports are sent within milliseconds of link-up so they are
//! over before recording starts, and checksum/segmentation offloads are off on
//! every veth (see `tests/replay_record/offload.py` for why).

use crate::netns::Netns;
use std::io;
use std::path::{Path, PathBuf};

/// Client address on the client link.
pub const CLIENT4: &str = "10.0.1.2";
/// Firewall address on the client link.
pub const FW_C4: &str = "10.0.1.1";
/// Firewall address on the server link.
pub const FW_S4: &str = "10.0.2.1";
/// Server address on the server link.
pub const SERVER4: &str = "10.0.2.2";
/// Client IPv6 address.
pub const CLIENT6: &str = "fd00:1::2";
/// Firewall IPv6 address on the client link.
pub const FW_C6: &str = "fd00:1::1";
/// Firewall IPv6 address on the server link.
pub const FW_S6: &str = "fd00:2::1";
/// Server IPv6 address.
pub const SERVER6: &str = "fd00:2::2";

/// Fixed MACs: client eth0, fw eth0, fw eth1, server eth0.
const MACS: [&str; 4] = [
    "02:00:00:00:01:02",
    "02:00:00:00:01:01",
    "02:00:00:00:02:01",
    "02:00:00:00:02:02",
];

/// Sysctls set in every namespace before its links exist, so new devices
/// inherit them through `default`.
const QUIET: &str = "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 \
net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
net.ipv6.conf.all.mldv2_unsolicited_report_interval=1 net.ipv6.conf.default.mldv2_unsolicited_report_interval=1 \
net.ipv6.conf.all.mldv1_unsolicited_report_interval=1 net.ipv6.conf.default.mldv1_unsolicited_report_interval=1";

/// The running topology. Dropping it deletes the three namespaces (and with
/// them the veth pairs).
#[derive(Debug)]
pub struct Topo {
    /// The client namespace.
    pub client: Netns,
    /// The firewall namespace (the host whose netfilter is the oracle).
    pub fw: Netns,
    /// The server namespace.
    pub server: Netns,
}

/// Path of the helper scripts directory (`tests/replay_record`).
pub fn record_scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/replay_record")
}

impl Topo {
    /// Builds the topology; on error every namespace created so far is deleted.
    pub fn new() -> io::Result<Topo> {
        let topo = Topo {
            client: Netns::new("cli")?,
            fw: Netns::new("fw")?,
            server: Netns::new("srv")?,
        };
        for ns in [&topo.client, &topo.fw, &topo.server] {
            ns.sh(QUIET)?;
        }
        let (c, f, s) = (topo.client.name(), topo.fw.name(), topo.server.name());
        topo.client.sh(&format!(
            "ip link add eth0 address {} type veth peer name eth0 address {} netns {f}",
            MACS[0], MACS[1]
        ))?;
        topo.fw.sh(&format!(
            "ip link add eth1 address {} type veth peer name eth0 address {} netns {s}",
            MACS[2], MACS[3]
        ))?;
        let _ = c;
        let offload = record_scripts_dir().join("offload.py");
        let offload = offload.display();
        topo.client.sh(&format!(
            "/usr/bin/python3 {offload} eth0 && \
             ip addr add {CLIENT4}/24 brd + dev eth0 && ip addr add {CLIENT6}/64 dev eth0 nodad && \
             ip link set eth0 up && \
             ip route add default via {FW_C4} && ip -6 route add default via {FW_C6}"
        ))?;
        topo.server.sh(&format!(
            "/usr/bin/python3 {offload} eth0 && \
             ip addr add {SERVER4}/24 brd + dev eth0 && ip addr add {SERVER6}/64 dev eth0 nodad && \
             ip link set eth0 up && \
             ip route add default via {FW_S4} && ip -6 route add default via {FW_S6}"
        ))?;
        topo.fw.sh(&format!(
            "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && \
             /usr/bin/python3 {offload} eth0 eth1 && \
             ip addr add {FW_C4}/24 brd + dev eth0 && ip addr add {FW_C6}/64 dev eth0 nodad && \
             ip addr add {FW_S4}/24 brd + dev eth1 && ip addr add {FW_S6}/64 dev eth1 nodad && \
             ip link set eth0 up && ip link set eth1 up"
        ))?;
        Ok(topo)
    }

    /// Waits until IPv6 is up on every link, then lets its start-up chatter
    /// pass, so a recording started afterwards sees a quiet network.
    ///
    /// A veth's carrier comes up through the kernel's link watcher, which may
    /// defer the event by up to a second; only then does addrconf give the
    /// link its link-local address and send the MLD reports for the groups
    /// it joined (ff02::1, the solicited-node groups, and the all-routers
    /// groups on the forwarding firewall). Those reports would otherwise
    /// land in the middle of the traffic, counted by OUTPUT (and by the
    /// neighbours' INPUT) at a moment nobody can predict.
    pub fn settle(&self) -> io::Result<()> {
        let want = [(&self.client, 1usize), (&self.fw, 2), (&self.server, 1)];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let mut ready = true;
            for (ns, n) in want {
                let out = ns.sh("ip -6 -o addr show scope link")?;
                let up = out.lines().filter(|l| !l.contains("tentative")).count();
                ready &= up >= n;
            }
            if ready {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(io::Error::other("IPv6 link-local addresses never came up"));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The reports go out within a few jiffies (report interval 1 ms,
        // robustness 2); this is a wide margin.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(())
    }

    /// The namespace called `role` (`client`, `fw` or `server`).
    pub fn ns(&self, role: &str) -> Option<&Netns> {
        match role {
            "client" => Some(&self.client),
            "fw" => Some(&self.fw),
            "server" => Some(&self.server),
            _ => None,
        }
    }

    /// Environment variables traffic scripts use instead of literal names and
    /// addresses.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLIENT4", CLIENT4.into()),
            ("FW_C4", FW_C4.into()),
            ("FW_S4", FW_S4.into()),
            ("SERVER4", SERVER4.into()),
            ("CLIENT6", CLIENT6.into()),
            ("FW_C6", FW_C6.into()),
            ("FW_S6", FW_S6.into()),
            ("SERVER6", SERVER6.into()),
            ("NS_CLIENT", self.client.name().into()),
            ("NS_FW", self.fw.name().into()),
            ("NS_SERVER", self.server.name().into()),
            ("RR", record_scripts_dir().display().to_string()),
            ("PY", "/usr/bin/python3".into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_forwards_v4_and_v6() {
        crate::require_root_with!("ip", "ping");
        let t = Topo::new().expect("topology");
        let out = t
            .client
            .sh(&format!(
                "ping -c1 -W2 {SERVER4} && ping -6 -c1 -W2 {SERVER6}"
            ))
            .expect("ping through fw");
        assert!(out.contains("1 received"), "{out}");
    }
}
