//! A ruleset as `iptables-save` describes it: tables of chains of rules.

use crate::{AddrMask, Family, Hook, Iface, Match, TableId, Target};

/// Packet and byte counters (`[packets:bytes]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes (the IP datagram's length, as the kernel counts `skb->len`).
    pub bytes: u64,
}

/// Where a rule came from in its source text (1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
}

/// Policy of a built-in chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// ACCEPT
    Accept,
    /// DROP
    Drop,
}

/// The fixed IP-header part of a rule (`struct ipt_ip` / `ip6t_ip6`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IpFilter {
    /// `-s`
    pub src: Option<AddrMask>,
    /// `! -s`
    pub inv_src: bool,
    /// `-d`
    pub dst: Option<AddrMask>,
    /// `! -d`
    pub inv_dst: bool,
    /// `-i`
    pub in_iface: Option<Iface>,
    /// `! -i`
    pub inv_in: bool,
    /// `-o`
    pub out_iface: Option<Iface>,
    /// `! -o`
    pub inv_out: bool,
    /// `-p` protocol number; 0 means any (`-p all`).
    pub proto: u8,
    /// `! -p`
    pub inv_proto: bool,
    /// IPv4 only: `Some(true)` for `-f` (non-first fragments), `Some(false)` for `! -f`.
    pub fragment: Option<bool>,
}

/// One rule: header filter, matches in order, target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// IP header part.
    pub ip: IpFilter,
    /// Matches (`-m …`), in the order iptables keeps them.
    pub matches: Vec<Match>,
    /// Target (`-j`/`-g`), or [`Target::None`] for a counting rule.
    pub target: Target,
    /// Counters (from `[p:b]` or `-c`).
    pub counters: Counters,
    /// Source position, for diagnostics and lints; not part of the rule's meaning.
    pub span: Option<Span>,
}

impl Rule {
    /// A rule with the given filter, matches and target, zero counters.
    pub fn new(ip: IpFilter, matches: Vec<Match>, target: Target) -> Rule {
        Rule {
            ip,
            matches,
            target,
            counters: Counters::default(),
            span: None,
        }
    }

    /// Equality as `iptables -D` compares rules: everything but counters and span.
    pub fn same_spec(&self, other: &Rule) -> bool {
        self.ip == other.ip && self.matches == other.matches && self.target == other.target
    }
}

/// A chain: built-in (has a policy) or user-defined.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Chain {
    /// Chain name.
    pub name: String,
    /// `Some` for built-in chains.
    pub policy: Option<Policy>,
    /// Policy counters (built-in chains) or the `[0:0]` iptables-save prints for user chains.
    pub counters: Counters,
    /// Rules in order.
    pub rules: Vec<Rule>,
}

impl Chain {
    /// The hook this chain is attached to, when built-in.
    pub fn hook(&self) -> Option<Hook> {
        if self.policy.is_some() {
            Hook::from_chain_name(&self.name)
        } else {
            None
        }
    }
}

/// A table with its chains: built-in chains first in hook order, then user chains.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    /// Which table.
    pub id: TableId,
    /// Chains.
    pub chains: Vec<Chain>,
}

impl Table {
    /// A table holding only its built-in chains, policy ACCEPT, as the kernel creates it.
    pub fn new(id: TableId) -> Table {
        Table {
            id,
            chains: id
                .hooks()
                .iter()
                .map(|h| Chain {
                    name: h.chain_name().to_string(),
                    policy: Some(Policy::Accept),
                    counters: Counters::default(),
                    rules: Vec::new(),
                })
                .collect(),
        }
    }

    /// A chain by name.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// A chain by name, mutable.
    pub fn chain_mut(&mut self, name: &str) -> Option<&mut Chain> {
        self.chains.iter_mut().find(|c| c.name == name)
    }
}

/// All tables of one family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ruleset {
    /// IPv4 or IPv6.
    pub family: Family,
    /// Tables present, in the order they were first mentioned.
    pub tables: Vec<Table>,
}

impl Ruleset {
    /// An empty ruleset (no tables loaded).
    pub fn new(family: Family) -> Ruleset {
        Ruleset {
            family,
            tables: Vec::new(),
        }
    }

    /// A table, if present.
    pub fn table(&self, id: TableId) -> Option<&Table> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// A table, created with its built-in chains when absent (as the kernel loads
    /// a table module on first use).
    pub fn table_mut(&mut self, id: TableId) -> &mut Table {
        if let Some(i) = self.tables.iter().position(|t| t.id == id) {
            &mut self.tables[i]
        } else {
            self.tables.push(Table::new(id));
            self.tables.last_mut().expect("just pushed")
        }
    }
}
