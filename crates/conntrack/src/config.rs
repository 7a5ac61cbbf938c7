//! Kernel: net/netfilter/nf_conntrack_standalone.c (sysctl table),
//! nf_conntrack_proto_{tcp,udp,icmp,icmpv6,generic}.c (default timeouts),
//! Documentation/networking/nf_conntrack-sysctl.rst.
//!
//! The tunables conntrack honours, by their kernel sysctl names. Timeouts are
//! kept in [`Nanos`]; sysctl values are whole seconds as in `/proc`.

use crate::Nanos;

/// One second in [`Nanos`].
pub const SEC: Nanos = 1_000_000_000;

/// TCP timeouts indexed like the kernel's `tcp_timeouts[]`
/// ([`crate::tcp::TcpState`] as index, then RETRANS and UNACK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpTimeouts {
    /// SYN_SENT, 120 s.
    pub syn_sent: Nanos,
    /// SYN_RECV, 60 s.
    pub syn_recv: Nanos,
    /// ESTABLISHED, 5 days.
    pub established: Nanos,
    /// FIN_WAIT, 120 s.
    pub fin_wait: Nanos,
    /// CLOSE_WAIT, 60 s.
    pub close_wait: Nanos,
    /// LAST_ACK, 30 s.
    pub last_ack: Nanos,
    /// TIME_WAIT, 120 s.
    pub time_wait: Nanos,
    /// CLOSE, 10 s.
    pub close: Nanos,
    /// SYN_SENT2 (simultaneous open), 120 s; no sysctl.
    pub syn_sent2: Nanos,
    /// Cap after `tcp_max_retrans` identical retransmits or a zero window, 300 s.
    pub max_retrans: Nanos,
    /// Cap while data is unacknowledged, 300 s.
    pub unacknowledged: Nanos,
}

impl Default for TcpTimeouts {
    fn default() -> Self {
        TcpTimeouts {
            syn_sent: 120 * SEC,
            syn_recv: 60 * SEC,
            established: 432_000 * SEC,
            fin_wait: 120 * SEC,
            close_wait: 60 * SEC,
            last_ack: 30 * SEC,
            time_wait: 120 * SEC,
            close: 10 * SEC,
            syn_sent2: 120 * SEC,
            max_retrans: 300 * SEC,
            unacknowledged: 300 * SEC,
        }
    }
}

/// Conntrack configuration; `Default` is the kernel's default for a host
/// with more than 4 GiB of RAM on 64-bit (262144 buckets, `nf_conntrack_max`
/// = buckets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtConfig {
    /// TCP state timeouts.
    pub tcp: TcpTimeouts,
    /// `nf_conntrack_udp_timeout`: unreplied UDP, 30 s.
    pub udp: Nanos,
    /// `nf_conntrack_udp_timeout_stream`: replied and > 2 s old, 120 s.
    pub udp_stream: Nanos,
    /// `nf_conntrack_icmp_timeout`, 30 s.
    pub icmp: Nanos,
    /// `nf_conntrack_icmpv6_timeout`, 30 s.
    pub icmpv6: Nanos,
    /// `nf_conntrack_generic_timeout`, 600 s.
    pub generic: Nanos,
    /// `nf_conntrack_gre_timeout`: unreplied GRE, 30 s.
    pub gre: Nanos,
    /// `nf_conntrack_gre_timeout_stream`: replied GRE, 180 s.
    pub gre_stream: Nanos,
    /// `nf_conntrack_max`: entries allowed (0 = unlimited, as in the kernel).
    pub max: u32,
    /// `nf_conntrack_buckets`: only shapes early-drop's neighbourhood here.
    pub buckets: u32,
    /// `nf_conntrack_tcp_loose`: pick up mid-stream connections (default 1).
    pub tcp_loose: bool,
    /// `nf_conntrack_tcp_be_liberal`: only RSTs outside the window are
    /// INVALID (default 0).
    pub tcp_be_liberal: bool,
    /// `nf_conntrack_tcp_ignore_invalid_rst` (default 0).
    pub tcp_ignore_invalid_rst: bool,
    /// `nf_conntrack_tcp_max_retrans` (default 3).
    pub tcp_max_retrans: u8,
    /// `nf_conntrack_checksum`: verify L4 checksums at PREROUTING (default 1).
    pub checksum: bool,
}

impl Default for CtConfig {
    fn default() -> Self {
        CtConfig {
            tcp: TcpTimeouts::default(),
            udp: 30 * SEC,
            udp_stream: 120 * SEC,
            icmp: 30 * SEC,
            icmpv6: 30 * SEC,
            generic: 600 * SEC,
            gre: 30 * SEC,
            gre_stream: 180 * SEC,
            max: 262_144,
            buckets: 262_144,
            tcp_loose: true,
            tcp_be_liberal: false,
            tcp_ignore_invalid_rst: false,
            tcp_max_retrans: 3,
            checksum: true,
        }
    }
}

/// Why a sysctl could not be set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SysctlError {
    /// Not a conntrack tunable this engine knows.
    #[error("unknown sysctl {0}")]
    Unknown(String),
    /// The value does not parse as the tunable's type or is out of range.
    #[error("invalid value {value:?} for {name}")]
    BadValue {
        /// Sysctl name.
        name: String,
        /// Offending value.
        value: String,
    },
}

impl CtConfig {
    /// Sets a tunable by its kernel name, with or without the `net.netfilter.`
    /// prefix and with `/` or `.` separators (`net/netfilter/nf_conntrack_max`).
    pub fn set_sysctl(&mut self, name: &str, value: &str) -> Result<(), SysctlError> {
        let norm = name.trim().replace('/', ".");
        let key = norm.strip_prefix("net.netfilter.").unwrap_or(&norm);
        let key = if key == "net.nf_conntrack_max" {
            "nf_conntrack_max"
        } else {
            key
        };
        let bad = || SysctlError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
        };
        let num = || value.trim().parse::<u64>().map_err(|_| bad());
        let secs = || num().and_then(|v| v.checked_mul(SEC).ok_or_else(bad));
        let flag = || match num()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad()),
        };
        let t = &mut self.tcp;
        match key {
            "nf_conntrack_tcp_timeout_syn_sent" => t.syn_sent = secs()?,
            "nf_conntrack_tcp_timeout_syn_recv" => t.syn_recv = secs()?,
            "nf_conntrack_tcp_timeout_established" => t.established = secs()?,
            "nf_conntrack_tcp_timeout_fin_wait" => t.fin_wait = secs()?,
            "nf_conntrack_tcp_timeout_close_wait" => t.close_wait = secs()?,
            "nf_conntrack_tcp_timeout_last_ack" => t.last_ack = secs()?,
            "nf_conntrack_tcp_timeout_time_wait" => t.time_wait = secs()?,
            "nf_conntrack_tcp_timeout_close" => t.close = secs()?,
            "nf_conntrack_tcp_timeout_max_retrans" => t.max_retrans = secs()?,
            "nf_conntrack_tcp_timeout_unacknowledged" => t.unacknowledged = secs()?,
            "nf_conntrack_udp_timeout" => self.udp = secs()?,
            "nf_conntrack_udp_timeout_stream" => self.udp_stream = secs()?,
            "nf_conntrack_icmp_timeout" => self.icmp = secs()?,
            "nf_conntrack_icmpv6_timeout" => self.icmpv6 = secs()?,
            "nf_conntrack_generic_timeout" => self.generic = secs()?,
            "nf_conntrack_gre_timeout" => self.gre = secs()?,
            "nf_conntrack_gre_timeout_stream" => self.gre_stream = secs()?,
            "nf_conntrack_max" => self.max = u32::try_from(num()?).map_err(|_| bad())?,
            "nf_conntrack_buckets" => {
                self.buckets = u32::try_from(num()?)
                    .ok()
                    .filter(|&b| b > 0)
                    .ok_or_else(bad)?
            }
            "nf_conntrack_tcp_loose" => self.tcp_loose = num()? != 0,
            "nf_conntrack_tcp_be_liberal" => self.tcp_be_liberal = flag()?,
            "nf_conntrack_tcp_ignore_invalid_rst" => self.tcp_ignore_invalid_rst = flag()?,
            "nf_conntrack_tcp_max_retrans" => {
                self.tcp_max_retrans = u8::try_from(num()?).map_err(|_| bad())?
            }
            "nf_conntrack_checksum" => self.checksum = flag()?,
            // Accepted and without effect on packet decisions here.
            "nf_conntrack_log_invalid"
            | "nf_conntrack_acct"
            | "nf_conntrack_timestamp"
            | "nf_conntrack_events"
            | "nf_log_all_netns" => {
                num()?;
            }
            _ => return Err(SysctlError::Unknown(name.to_string())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_names() {
        let mut c = CtConfig::default();
        c.set_sysctl("net.netfilter.nf_conntrack_tcp_timeout_established", "3600")
            .unwrap();
        assert_eq!(c.tcp.established, 3600 * SEC);
        c.set_sysctl("net/netfilter/nf_conntrack_tcp_loose", "0")
            .unwrap();
        assert!(!c.tcp_loose);
        c.set_sysctl("net.nf_conntrack_max", "10").unwrap();
        assert_eq!(c.max, 10);
        assert!(matches!(
            c.set_sysctl("net.netfilter.nf_conntrack_bogus", "1"),
            Err(SysctlError::Unknown(_))
        ));
        assert!(matches!(
            c.set_sysctl("nf_conntrack_max", "x"),
            Err(SysctlError::BadValue { .. })
        ));
    }
}
