// SPDX-License-Identifier: GPL-2.0

//! The module parameters (`size`, `devices`, `rings`, `ring_size`), readable in sysfs.
//!
//! The `module!` macro of kernel 7.3 registers Rust parameters with permission
//! 0, so they never appear under `/sys/module/<name>/parameters`. The
//! parameters here are therefore declared the way C's `module_param()` does:
//! a `struct kernel_param` in the `__param` section, parsed and shown by the
//! kernel's own `param_ops_ulong`/`param_ops_uint`, plus the `.modinfo`
//! strings that `modinfo` prints.

use core::cell::UnsafeCell;
use kernel::{
    bindings,
    module_param::KernelParam,
    page::PAGE_SIZE,
    prelude::*,
    str::CString, //
};

use crate::{
    gpio::Edges,
    uapi, //
};

/// A parameter value that the kernel's C parameter code writes.
///
/// # Invariants
///
/// The value is written only by `parse_args()` while the module is loading,
/// before `init` runs, and never afterwards: the parameters are read-only in
/// sysfs (permission 0444), so no `set` call can happen once the module is live.
#[repr(transparent)]
struct ParamValue<T>(UnsafeCell<T>);

// SAFETY: by the type invariant the only write happens before any reader can exist, so
// shared access from several threads only ever reads. For `gpio`, a string pointer, the string
// (allocated by `param_ops_charp`) is freed only at unload, after every reader.
unsafe impl<T> Sync for ParamValue<T> {}

impl<T: Copy> ParamValue<T> {
    const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    fn get(&self) -> T {
        // SAFETY: by the type invariant no write can run concurrently with this read.
        unsafe { *self.0.get() }
    }

    const fn as_arg(&self) -> *mut c_void {
        self.0.get().cast()
    }
}

static SIZE: ParamValue<c_ulong> = ParamValue::new(uapi::MYMAP_DEFAULT_SIZE as c_ulong);
static DEVICES: ParamValue<c_uint> = ParamValue::new(1);
static RINGS: ParamValue<c_uint> = ParamValue::new(1);
static RING_SIZE: ParamValue<c_uint> = ParamValue::new(uapi::MYMAP_RING_DEFAULT_SIZE);
static GPIO: ParamValue<*mut c_char> = ParamValue::new(core::ptr::null_mut());

/// Declares one read-only parameter: its `kernel_param` and `.modinfo` lines.
macro_rules! declare_param {
    ($param:ident, $value:ident, $ops:ident, $name:literal, $parmtype:literal, $parm:literal) => {
        #[link_section = "__param"]
        #[used(compiler)]
        // `as_char_ptr` is not `const`; the name is ASCII, so the sign of `char` is moot.
        #[expect(clippy::disallowed_methods)]
        static $param: KernelParam = KernelParam::new(bindings::kernel_param {
            name: $name.as_ptr(),
            // `__this_module` is set up by the module loader and lives until the module
            // is unloaded, which also ends every use of this parameter.
            mod_: (&raw const bindings::__this_module).cast_mut(),
            ops: &raw const bindings::$ops,
            perm: 0o444,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: $value.as_arg(),
            },
        });

        const _: () = {
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; $parmtype.len()] = *$parmtype;
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; $parm.len()] = *$parm;
        };
    };
}

declare_param!(
    __PARAM_SIZE,
    SIZE,
    param_ops_ulong,
    c"size",
    b"parmtype=size:ulong\0",
    b"parm=size:Buffer bytes per device, rounded up to whole pages (default 65536, at most 67108864)\0"
);
declare_param!(
    __PARAM_DEVICES,
    DEVICES,
    param_ops_uint,
    c"devices",
    b"parmtype=devices:uint\0",
    b"parm=devices:Number of devices: /dev/mymap, /dev/mymap1, ... (default 1, at most 8)\0"
);

declare_param!(
    __PARAM_RINGS,
    RINGS,
    param_ops_uint,
    c"rings",
    b"parmtype=rings:uint\0",
    b"parm=rings:Number of rings: /dev/mymap-ring0, ... (default 1, 0 to 8)\0"
);
declare_param!(
    __PARAM_RING_SIZE,
    RING_SIZE,
    param_ops_uint,
    c"ring_size",
    b"parmtype=ring_size:uint\0",
    b"parm=ring_size:Data bytes per ring, a power of two of at least one page (default 262144, at most 67108864)\0"
);

declare_param!(
    __PARAM_GPIO,
    GPIO,
    param_ops_charp,
    c"gpio",
    b"parmtype=gpio:charp\0",
    b"parm=gpio:GPIO lines producing into the rings: LABEL:OFFSET[,rising|falling|both] for ring 0, then ;-separated for rings 1, 2, ... (an empty entry skips a ring)\0"
);

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
    pub(crate) gpio: KVec<GpioSpec>,
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
        let rings = RINGS.get();
        if rings > uapi::MYMAP_MAX_RINGS {
            pr_err!(
                "rings={} refused: it must be 0 to {}\n",
                rings,
                uapi::MYMAP_MAX_RINGS
            );
            return Err(EINVAL);
        }
        let ring_size = RING_SIZE.get();
        if !ring_size.is_power_of_two()
            || (ring_size as usize) < PAGE_SIZE
            || ring_size > uapi::MYMAP_RING_MAX_SIZE
        {
            pr_err!(
                "ring_size={} refused: it must be a power of two from {} to {}\n",
                ring_size,
                PAGE_SIZE,
                uapi::MYMAP_RING_MAX_SIZE
            );
            return Err(EINVAL);
        }
        // Cannot overflow: `size` is at most MYMAP_MAX_SIZE, far below `usize::MAX`.
        let size = size.next_multiple_of(PAGE_SIZE);
        let gpio = Self::gpio(rings)?;
        Ok(Self {
            size,
            devices,
            rings,
            ring_size,
            gpio,
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
        // alive until unload (see the `Sync` implementation above).
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
