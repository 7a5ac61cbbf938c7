//! Kernel: net/netfilter/nf_log_syslog.c / xt_TRACE (`nf_log_trace`): the
//! "TRACE: table:chain:type:rulenum" steps, here as structured events for
//! `--trace` and `explain`.

use palisade_model::{Hook, TableId};

use crate::ctview::CtState;

/// What kind of step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A rule matched (its counters were incremented).
    Rule,
    /// Fell off a user chain (implicit RETURN).
    Return,
    /// The built-in chain's policy applied.
    Policy,
}

/// One step of a packet's path, borrowed (observers copy what they keep).
#[derive(Clone, Copy, Debug)]
pub struct TraceEvent<'a> {
    /// Hook.
    pub hook: Hook,
    /// Table.
    pub table: TableId,
    /// Chain.
    pub chain: &'a str,
    /// 1-based rule number; 0 for policy/return steps.
    pub rule: u32,
    /// Step kind.
    pub kind: StepKind,
    /// Target name (`ACCEPT`, `DROP`, chain name, `LOG`, …).
    pub target: &'a str,
    /// ctinfo at this point.
    pub ct: CtState,
}

/// An owned copy of a [`TraceEvent`], collected in [`crate::Outcome::trace`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// Hook.
    pub hook: Hook,
    /// Table.
    pub table: TableId,
    /// Chain.
    pub chain: String,
    /// Rule number (0: policy/return).
    pub rule: u32,
    /// Kind.
    pub kind: StepKind,
    /// Target.
    pub target: String,
    /// ctinfo.
    pub ct: CtState,
}

impl From<&TraceEvent<'_>> for TraceStep {
    fn from(e: &TraceEvent<'_>) -> TraceStep {
        TraceStep {
            hook: e.hook,
            table: e.table,
            chain: e.chain.to_string(),
            rule: e.rule,
            kind: e.kind,
            target: e.target.to_string(),
            ct: e.ct,
        }
    }
}

/// Receives every step of every packet when installed with
/// [`crate::Engine::set_observer`].
pub trait Observer: Send {
    /// One step.
    fn step(&mut self, ev: &TraceEvent<'_>);
}
