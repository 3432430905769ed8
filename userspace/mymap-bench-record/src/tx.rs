// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The `tx` part of the document (schema 5): the GPIO player's toggle jitter
//! against a userspace loop on the GPIO character device, and the commands a
//! tx ring accepts per second against one `ioctl` per command (issue 21; see
//! mymap-bench's tx.rs and README).

use serde::{
    Deserialize,
    Serialize, //
};

use crate::{
    gpio::Ratio,
    Summary, //
};

/// The tx ring's measurements of one boot.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Tx {
    /// The gpio-sim chip, the player's line (`player=`) and the line the
    /// userspace loop sets through the character device.
    pub chip: String,
    pub player_line: u32,
    pub cdev_line: u32,
    /// How far after the start of a round its first set is scheduled.
    pub lead_ns: u64,
    pub jitter: Vec<Jitter>,
    /// Absent when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Commands>,
    pub ratios: Vec<Ratio>,
}

/// Sets at one rate, every side.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Jitter {
    /// `jitter-1k`, `jitter-10k`.
    pub id: String,
    pub rate_hz: u32,
    /// Sets of each side per round.
    pub sets: u32,
    pub sides: Vec<JitterSide>,
}

/// One side's |actual - requested| over all its rounds, and round by round.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JitterSide {
    /// `player`, `cdev-loop`.
    pub id: String,
    pub label: String,
    pub error: Summary,
    /// Sets whose time had passed when the side took them (in `error` too).
    pub late: u64,
    pub rounds: Vec<JitterRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JitterRound {
    pub error: Summary,
    pub late: u64,
    /// From the start of the round until the side was ready to wait for its
    /// first set: the player's records written and kicked, the loop's request
    /// made (0: nothing to prepare).
    pub prepare_ns: u64,
}

/// Commands accepted per second from one thread.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Commands {
    /// `commands-16`: the player's 16-byte records.
    pub id: String,
    pub payload_len: u32,
    /// Records per kick of the batched side.
    pub batch: u32,
    /// Commands each side sends per round.
    pub per_round: u64,
    pub sides: Vec<CommandSide>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CommandSide {
    /// `tx-batch`, `tx-kick-each`.
    pub id: String,
    pub label: String,
    /// The median of the rounds'.
    pub per_s: Option<f64>,
    pub rounds: Vec<CommandRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CommandRound {
    pub commands: u64,
    pub elapsed_s: f64,
    /// The system calls the side made.
    pub syscalls: u64,
}
