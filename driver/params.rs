// SPDX-License-Identifier: GPL-2.0

//! The module parameters (`size`, `devices`, `rings`, `ring_size`, `tx_rings`, `tx_size`,
//! `gpio`, `player`), readable in sysfs.
//!
//! The `module!` macro of kernel 7.3 registers Rust parameters with permission
//! 0, so they never appear under `/sys/module/<name>/parameters`; they are
//! declared with `kernel_gaps::read_only_param!` instead, the way C's
//! `module_param()` does.

use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    str::CString, //
};

use crate::{
    gpio::Edges,
    kernel_gaps::read_only_param,
    uapi, //
};

read_only_param!(
    SIZE: c_ulong = uapi::MYMAP_DEFAULT_SIZE as c_ulong,
    param_ops_ulong,
    c"size",
    b"parmtype=size:ulong\0",
    b"parm=size:Buffer bytes per device, rounded up to whole pages (default 65536, at most 67108864)\0",
);
read_only_param!(
    DEVICES: c_uint = 1,
    param_ops_uint,
    c"devices",
    b"parmtype=devices:uint\0",
    b"parm=devices:Number of devices: /dev/mymap, /dev/mymap1, ... (default 1, at most 8)\0",
);
read_only_param!(
    RINGS: c_uint = 1,
    param_ops_uint,
    c"rings",
    b"parmtype=rings:uint\0",
    b"parm=rings:Number of rings: /dev/mymap-ring0, ... (default 1, 0 to 8)\0",
);
read_only_param!(
    RING_SIZE: c_uint = uapi::MYMAP_RING_DEFAULT_SIZE,
    param_ops_uint,
    c"ring_size",
    b"parmtype=ring_size:uint\0",
    b"parm=ring_size:Data bytes per ring, a power of two of at least one page (default 262144, at most 67108864)\0",
);
read_only_param!(
    TX_RINGS: c_uint = 1,
    param_ops_uint,
    c"tx_rings",
    b"parmtype=tx_rings:uint\0",
    b"parm=tx_rings:Number of tx rings: /dev/mymap-tx0, ... (default 1, 0 to 8)\0",
);
read_only_param!(
    TX_SIZE: c_uint = uapi::MYMAP_RING_DEFAULT_SIZE,
    param_ops_uint,
    c"tx_size",
    b"parmtype=tx_size:uint\0",
    b"parm=tx_size:Data bytes per tx ring, a power of two of at least one page (default 262144, at most 67108864)\0",
);
read_only_param!(
    GPIO: *mut c_char = core::ptr::null_mut(),
    param_ops_charp,
    c"gpio",
    b"parmtype=gpio:charp\0",
    b"parm=gpio:GPIO lines producing into the rings: LABEL:OFFSET[,rising|falling|both] for ring 0, then ;-separated for rings 1, 2, ... (an empty entry skips a ring)\0",
);

read_only_param!(
    PLAYER: *mut c_char = core::ptr::null_mut(),
    param_ops_charp,
    c"player",
    b"parmtype=player:charp\0",
    b"parm=player:GPIO output lines played from the tx rings: LABEL:OFFSET[+OFFSET...] for tx ring 0, then ;-separated for tx rings 1, 2, ... (an empty entry skips one)\0",
);

/// The output lines of a GPIO player (`player=`).
pub(crate) struct PlayerSpec {
    pub(crate) tx: u32,
    pub(crate) label: CString,
    pub(crate) offsets: KVec<u32>,
}

/// A GPIO line to produce into a ring (`gpio=`).
pub(crate) struct GpioSpec {
    pub(crate) ring: u32,
    pub(crate) label: CString,
    pub(crate) offset: u32,
    pub(crate) edges: Edges,
}

/// The parameters, checked and with the size rounded up to whole pages.
pub(crate) struct Params {
    pub(crate) size: usize,
    pub(crate) devices: u32,
    pub(crate) rings: u32,
    pub(crate) ring_size: u32,
    pub(crate) tx_rings: u32,
    pub(crate) tx_size: u32,
    pub(crate) gpio: KVec<GpioSpec>,
    pub(crate) player: KVec<PlayerSpec>,
}

impl Params {
    /// Reads and checks the parameters; a refused value fails the load with `EINVAL`.
    pub(crate) fn get() -> Result<Self> {
        let size = SIZE.get();
        let max = uapi::MYMAP_MAX_SIZE as c_ulong;
        if size == 0 || size > max {
            pr_err!("size={} refused: it must be 1 to {} bytes\n", size, max);
            return Err(EINVAL);
        }
        let devices = DEVICES.get();
        if devices == 0 || devices > uapi::MYMAP_MAX_DEVICES {
            pr_err!(
                "devices={} refused: it must be 1 to {}\n",
                devices,
                uapi::MYMAP_MAX_DEVICES
            );
            return Err(EINVAL);
        }
        let rings = ring_count("rings", RINGS.get())?;
        let ring_size = ring_data_size("ring_size", RING_SIZE.get())?;
        let tx_rings = ring_count("tx_rings", TX_RINGS.get())?;
        let tx_size = ring_data_size("tx_size", TX_SIZE.get())?;
        // Cannot overflow: `size` is at most MYMAP_MAX_SIZE, far below `usize::MAX`.
        let size = size.next_multiple_of(PAGE_SIZE);
        let gpio = Self::gpio(rings)?;
        let player = Self::player(rings.min(tx_rings))?;
        Ok(Self {
            size,
            devices,
            rings,
            ring_size,
            tx_rings,
            tx_size,
            gpio,
            player,
        })
    }

    /// Parses `gpio=`; `EINVAL`, with the entry named, for a malformed entry or a ring beyond
    /// `rings`.
    fn gpio(rings: u32) -> Result<KVec<GpioSpec>> {
        let mut specs = KVec::new();
        let ptr = GPIO.get();
        if ptr.is_null() {
            return Ok(specs);
        }
        // SAFETY: a non-null value is the NUL-terminated string `param_ops_charp` stored,
        // alive until unload (see `ParamValue`'s `Sync` implementation).
        let text = unsafe { CStr::from_char_ptr(ptr) }.to_bytes();
        for (ring, entry) in text.split(|&b| b == b';').enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some(spec) = GpioSpec::parse(ring, entry)? else {
                pr_err!(
                    "gpio= entry {} refused: it must be LABEL:OFFSET[,rising|falling|both]\n",
                    ring
                );
                return Err(EINVAL);
            };
            if spec.ring >= rings {
                pr_err!(
                    "gpio= entry {} refused: there are only {} ring(s)\n",
                    ring,
                    rings
                );
                return Err(EINVAL);
            }
            specs.push(spec, GFP_KERNEL)?;
        }
        Ok(specs)
    }
}

impl Params {
    /// Parses `player=`; `EINVAL`, with the entry named, for a malformed entry or a tx ring
    /// without a ring of its index (`usable`: the tx rings that have one).
    fn player(usable: u32) -> Result<KVec<PlayerSpec>> {
        let mut specs = KVec::new();
        let ptr = PLAYER.get();
        if ptr.is_null() {
            return Ok(specs);
        }
        // SAFETY: as in `gpio`.
        let text = unsafe { CStr::from_char_ptr(ptr) }.to_bytes();
        for (tx, entry) in text.split(|&b| b == b';').enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some(spec) = PlayerSpec::parse(tx, entry)? else {
                pr_err!(
                    "player= entry {} refused: it must be LABEL:OFFSET[+OFFSET...], at most {} lines\n",
                    tx,
                    uapi::MYMAP_PLAY_MAX_LINES
                );
                return Err(EINVAL);
            };
            if spec.tx >= usable {
                pr_err!(
                    "player= entry {} refused: it needs tx ring {} and ring {} (tx_rings=, rings=)\n",
                    tx,
                    tx,
                    tx
                );
                return Err(EINVAL);
            }
            specs.push(spec, GFP_KERNEL)?;
        }
        Ok(specs)
    }
}

impl PlayerSpec {
    /// Parses `LABEL:OFFSET[+OFFSET...]` for tx ring `tx`; `None` if malformed.
    fn parse(tx: usize, entry: &[u8]) -> Result<Option<Self>> {
        let Some(colon) = entry.iter().rposition(|&b| b == b':') else {
            return Ok(None);
        };
        let (label, list) = (&entry[..colon], &entry[colon + 1..]);
        if label.is_empty() || list.is_empty() {
            return Ok(None);
        }
        let mut offsets = KVec::new();
        for item in list.split(|&b| b == b'+') {
            let Some(offset) = core::str::from_utf8(item)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                return Ok(None);
            };
            if offsets.len() as u32 == uapi::MYMAP_PLAY_MAX_LINES || offsets.contains(&offset) {
                return Ok(None);
            }
            offsets.push(offset, GFP_KERNEL)?;
        }
        let mut owned = KVec::with_capacity(label.len() + 1, GFP_KERNEL)?;
        owned.extend_from_slice(label, GFP_KERNEL)?;
        owned.push(0, GFP_KERNEL)?;
        let Ok(label) = CString::try_from(CStr::from_bytes_with_nul(&owned).map_err(|_| EINVAL)?)
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            tx: tx as u32,
            label,
            offsets,
        }))
    }
}

impl GpioSpec {
    /// Parses `LABEL:OFFSET[,EDGES]` for ring `ring`; `None` if malformed.
    fn parse(ring: usize, entry: &[u8]) -> Result<Option<Self>> {
        let (line, edges) = match entry.iter().position(|&b| b == b',') {
            Some(i) => (&entry[..i], Edges::parse(&entry[i + 1..])),
            None => (entry, Some(Edges::Both)),
        };
        let Some(edges) = edges else {
            return Ok(None);
        };
        // The offset follows the last colon: a label may contain colons.
        let Some(colon) = line.iter().rposition(|&b| b == b':') else {
            return Ok(None);
        };
        let (label, offset) = (&line[..colon], &line[colon + 1..]);
        let offset = core::str::from_utf8(offset)
            .ok()
            .and_then(|s| s.parse::<u32>().ok());
        let (Some(offset), false) = (offset, label.is_empty()) else {
            return Ok(None);
        };
        let mut owned = KVec::with_capacity(label.len() + 1, GFP_KERNEL)?;
        owned.extend_from_slice(label, GFP_KERNEL)?;
        owned.push(0, GFP_KERNEL)?;
        let Ok(label) = CString::try_from(CStr::from_bytes_with_nul(&owned).map_err(|_| EINVAL)?)
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            ring: ring as u32,
            label,
            offset,
            edges,
        }))
    }
}

/// A count of rings of one kind (`rings=`, `tx_rings=`): 0 to `MYMAP_MAX_RINGS`.
fn ring_count(name: &str, value: u32) -> Result<u32> {
    if value > uapi::MYMAP_MAX_RINGS {
        pr_err!(
            "{}={} refused: it must be 0 to {}\n",
            name,
            value,
            uapi::MYMAP_MAX_RINGS
        );
        return Err(EINVAL);
    }
    Ok(value)
}

/// A ring's data size (`ring_size=`, `tx_size=`): a power of two from a page to
/// `MYMAP_RING_MAX_SIZE`.
fn ring_data_size(name: &str, value: u32) -> Result<u32> {
    if !value.is_power_of_two() || (value as usize) < PAGE_SIZE || value > uapi::MYMAP_RING_MAX_SIZE
    {
        pr_err!(
            "{}={} refused: it must be a power of two from {} to {}\n",
            name,
            value,
            PAGE_SIZE,
            uapi::MYMAP_RING_MAX_SIZE
        );
        return Err(EINVAL);
    }
    Ok(value)
}
