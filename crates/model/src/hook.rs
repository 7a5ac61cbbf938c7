//! Kernel: include/uapi/linux/netfilter_ipv4.h (`nf_ip_hook_priorities`) and the
//! `valid_hooks` of each table in net/ipv4/netfilter/iptable_*.c.

/// Address family of a ruleset (`iptables` vs `ip6tables`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`iptables`).
    V4,
    /// IPv6 (`ip6tables`).
    V6,
}

impl Family {
    /// The command that manages this family's rules.
    pub fn command(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }
}

/// A netfilter hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// NF_INET_PRE_ROUTING
    PreRouting,
    /// NF_INET_LOCAL_IN
    Input,
    /// NF_INET_FORWARD
    Forward,
    /// NF_INET_LOCAL_OUT
    Output,
    /// NF_INET_POST_ROUTING
    PostRouting,
}

impl Hook {
    /// All hooks in the kernel's numbering order.
    pub const ALL: [Hook; 5] = [
        Hook::PreRouting,
        Hook::Input,
        Hook::Forward,
        Hook::Output,
        Hook::PostRouting,
    ];

    /// The built-in chain name attached to this hook.
    pub fn chain_name(self) -> &'static str {
        match self {
            Hook::PreRouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::PostRouting => "POSTROUTING",
        }
    }

    /// Hook of a built-in chain name.
    pub fn from_chain_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.chain_name() == name)
    }

    /// Index 0..5, as `NF_INET_*`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// An iptables table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableId {
    /// `raw`, priority −300: before conntrack, so NOTRACK works.
    Raw,
    /// `mangle`, priority −150.
    Mangle,
    /// `nat`, −100 (DNAT side) and +100 (SNAT side).
    Nat,
    /// `filter`, priority 0.
    Filter,
    /// `security`, priority 50.
    Security,
}

impl TableId {
    /// Every table.
    pub const ALL: [TableId; 5] = [
        TableId::Raw,
        TableId::Mangle,
        TableId::Nat,
        TableId::Filter,
        TableId::Security,
    ];

    /// The table's name as written after `*` and `-t`.
    pub fn name(self) -> &'static str {
        match self {
            TableId::Raw => "raw",
            TableId::Mangle => "mangle",
            TableId::Nat => "nat",
            TableId::Filter => "filter",
            TableId::Security => "security",
        }
    }

    /// Table of a name.
    pub fn from_name(name: &str) -> Option<TableId> {
        TableId::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Built-in chains (hooks) of this table, in hook order — the order
    /// `iptables-save` prints them.
    pub fn hooks(self) -> &'static [Hook] {
        use Hook::*;
        match self {
            TableId::Raw => &[PreRouting, Output],
            TableId::Mangle => &[PreRouting, Input, Forward, Output, PostRouting],
            TableId::Nat => &[PreRouting, Input, Output, PostRouting],
            TableId::Filter => &[Input, Forward, Output],
            TableId::Security => &[Input, Forward, Output],
        }
    }

    /// Hook priority of this table at `hook` (netfilter_ipv4.h; IPv6 is identical).
    /// NAT registers at −100 on PREROUTING/OUTPUT (DNAT) and +100 on
    /// INPUT/POSTROUTING (SNAT).
    pub fn priority(self, hook: Hook) -> i32 {
        match self {
            TableId::Raw => -300,
            TableId::Mangle => -150,
            TableId::Nat => match hook {
                Hook::PreRouting | Hook::Output => -100,
                _ => 100,
            },
            TableId::Filter => 0,
            TableId::Security => 50,
        }
    }
}

/// Conntrack's own priority (`NF_IP_PRI_CONNTRACK`), at PREROUTING and OUTPUT.
pub const PRI_CONNTRACK: i32 = -200;
/// Defragmentation (`NF_IP_PRI_CONNTRACK_DEFRAG`).
pub const PRI_DEFRAG: i32 = -400;
