// SPDX-License-Identifier: GPL-2.0

//! The producer API for other kernel code, and the consumer API of tx rings:
//! `include/linux/mymap_ring.h`.
//!
//! These are the C functions that header declares, defined in Rust over
//! [`Ring`]; `exports.c` exports them with `EXPORT_SYMBOL_GPL` (a Rust module
//! has no other way to export a symbol), so a product team's driver, in C or
//! Rust, produces into a mymap ring without forking this one. A `struct
//! mymap_ring *` is a pointer made by `Arc::into_raw`: `mymap_ring_get` takes
//! a reference and `mymap_ring_put` drops it.
//!
//! Each definition is checked at compile time against the header's declaration,
//! which `glue.rs` has from bindgen: a signature that differs from the header's
//! does not build (see the end of this file).
//!
//! The registry of rings is filled at load, after every ring device is
//! registered, and emptied first at unload. A module that calls these
//! functions depends on mymap's symbols, so mymap cannot be unloaded while it
//! is loaded: the registry never changes under a caller.

use core::ffi::c_void;
use kernel::{
    prelude::*,
    sync::{
        atomic::{
            ordering::{
                Acquire,
                Release, //
            },
            Atomic,
        },
        Arc, //
    },
};

use crate::{
    glue::{
        self,
        mymap_ring,
        mymap_tx,
        mymap_tx_drain_fn,
        mymap_tx_kick_fn,
        mymap_tx_record, //
    },
    ring::{
        Ring,
        F_FORCE_WAKEUP,
        F_NO_WAKEUP, //
    },
    tx::{
        TxConsumer,
        TxRing,
        Verdict, //
    },
    uapi::MYMAP_MAX_RINGS,
};

/// The rings, by index, as `Arc::into_raw` pointers; null where there is none.
static REGISTRY: [Atomic<*const Ring>; MYMAP_MAX_RINGS as usize] =
    [const { Atomic::new(core::ptr::null()) }; MYMAP_MAX_RINGS as usize];

/// The tx rings, by index, as `Arc::into_raw` pointers; null where there is none.
static TX_REGISTRY: [Atomic<*const TxRing>; MYMAP_MAX_RINGS as usize] =
    [const { Atomic::new(core::ptr::null()) }; MYMAP_MAX_RINGS as usize];

/// Publishes the tx rings to other modules.
pub(crate) fn publish_tx<'a>(txs: impl Iterator<Item = &'a Arc<TxRing>>) {
    for (slot, tx) in TX_REGISTRY.iter().zip(txs) {
        slot.store(Arc::into_raw(tx.clone()), Release);
    }
}

/// Publishes `rings` to other modules.
pub(crate) fn publish(rings: &[Arc<Ring>]) {
    for (slot, ring) in REGISTRY.iter().zip(rings) {
        slot.store(Arc::into_raw(ring.clone()), Release);
    }
}

/// Withdraws every ring, dropping the registry's references.
pub(crate) fn withdraw() {
    for slot in &REGISTRY {
        let ptr = slot.xchg(core::ptr::null(), Acquire);
        if !ptr.is_null() {
            // SAFETY: `ptr` came from `Arc::into_raw` in `publish` and was in the registry,
            // whose reference this is; the swap makes this the only release of it.
            drop(unsafe { Arc::from_raw(ptr) });
        }
    }
    for slot in &TX_REGISTRY {
        let ptr = slot.xchg(core::ptr::null(), Acquire);
        if !ptr.is_null() {
            // SAFETY: as above, for `publish_tx`.
            drop(unsafe { Arc::from_raw(ptr) });
        }
    }
}

/// Ring `index`, if the module has it (for the device-tree GPIO producer, `of.rs`).
pub(crate) fn ring(index: u32) -> Option<Arc<Ring>> {
    let ptr = REGISTRY.get(index as usize)?.load(Acquire);
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` is the registry's `Arc::into_raw` reference; the registry is emptied only
    // at unload, after the platform driver that calls this is unregistered.
    let ring = unsafe { kernel::sync::ArcBorrow::from_raw(ptr) };
    Some(Arc::from(ring))
}

/// The flags the C API accepts.
const FLAGS: u32 = F_NO_WAKEUP | F_FORCE_WAKEUP;

// The header's flags are the ring's.
const _: () = assert!(
    F_NO_WAKEUP == glue::MYMAP_RING_F_NO_WAKEUP
        && F_FORCE_WAKEUP == glue::MYMAP_RING_F_FORCE_WAKEUP
);

/// Borrows the ring behind a `struct mymap_ring *`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put.
unsafe fn borrow<'a>(ring: *mut mymap_ring) -> &'a Ring {
    // SAFETY: the caller holds the reference `mymap_ring_get` took, so the ring is alive.
    unsafe { &*ring.cast::<Ring>() }
}

/// `mymap_ring_get()`: see `include/linux/mymap_ring.h`.
#[no_mangle]
pub(crate) extern "C" fn mymap_ring_get(index: c_uint) -> *mut mymap_ring {
    let ptr = REGISTRY
        .get(index as usize)
        .map_or(core::ptr::null(), |slot| slot.load(Acquire));
    if ptr.is_null() {
        // `ERR_PTR(-ENODEV)`: the errno, negative, as an address.
        return core::ptr::without_provenance_mut(ENODEV.to_errno() as isize as usize);
    }
    // SAFETY: `ptr` is the registry's `Arc::into_raw` reference, alive while the registry
    // holds it, which it does while any caller module is loaded (module docs).
    let ring = unsafe { kernel::sync::ArcBorrow::from_raw(ptr) };
    Arc::into_raw(Arc::from(ring)).cast_mut().cast()
}

/// `mymap_ring_put()`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and is not used after this call.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_put(ring: *mut mymap_ring) {
    // SAFETY: `ring` is a reference made by `Arc::into_raw` in `mymap_ring_get`, released
    // here once (caller's guarantee).
    drop(unsafe { Arc::from_raw(ring.cast::<Ring>().cast_const()) });
}

/// `mymap_ring_max_payload()`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_max_payload(ring: *mut mymap_ring) -> u32 {
    // SAFETY: the caller's guarantee.
    unsafe { borrow(ring) }.max_payload()
}

/// Reserves for the C API: the payload pointer, or null (the drop is counted).
fn reserve(
    ring: &Ring,
    len: u32,
    source: u16,
    flags: u16,
    timestamp_ns: Option<u64>,
) -> *mut c_void {
    match ring.reserve(len, source, flags, timestamp_ns) {
        Ok(r) => {
            let payload = r.payload();
            // The C caller commits or discards by pointer (`reservation_at`).
            core::mem::forget(r);
            payload.cast()
        }
        Err(_) => core::ptr::null_mut(),
    }
}

/// `mymap_ring_reserve_at()`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_reserve_at(
    ring: *mut mymap_ring,
    len: u32,
    source: u16,
    flags: u16,
    timestamp_ns: u64,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    reserve(
        unsafe { borrow(ring) },
        len,
        source,
        flags,
        Some(timestamp_ns),
    )
}

/// `mymap_ring_reserve()`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_reserve(
    ring: *mut mymap_ring,
    len: u32,
    source: u16,
) -> *mut c_void {
    // SAFETY: the caller's guarantee.
    reserve(unsafe { borrow(ring) }, len, source, 0, None)
}

/// `mymap_ring_commit()`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_commit(
    ring: *mut mymap_ring,
    data: *mut c_void,
    flags: u32,
) {
    // SAFETY: the caller's guarantee.
    let ring = unsafe { borrow(ring) };
    if let Some(r) = ring.reservation_at(data.cast()) {
        r.commit(flags & FLAGS);
    }
}

/// `mymap_ring_discard()`.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_discard(
    ring: *mut mymap_ring,
    data: *mut c_void,
    flags: u32,
) {
    // SAFETY: the caller's guarantee.
    let ring = unsafe { borrow(ring) };
    if let Some(r) = ring.reservation_at(data.cast()) {
        r.discard(flags & FLAGS);
    }
}

/// `mymap_ring_output()`: `EINVAL` for a null `data` with a non-zero `len`, before
/// anything is reserved; a zero `len` makes an empty record whatever `data` is.
///
/// # Safety
///
/// `ring` was returned by [`mymap_ring_get`] and not yet put; `data` is valid for reading
/// `len` bytes, or null, or `len` is 0.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_ring_output(
    ring: *mut mymap_ring,
    source: u16,
    data: *const c_void,
    len: u32,
    flags: u32,
) -> c_int {
    if data.is_null() && len > 0 {
        return EINVAL.to_errno();
    }
    // SAFETY: the caller's guarantee.
    let ring = unsafe { borrow(ring) };
    let mut r = match ring.reserve(len, source, 0, None) {
        Ok(r) => r,
        Err(e) => return e.to_errno(),
    };
    // No slice of a null (or dangling) `data` when there is nothing to copy.
    if len > 0 {
        // SAFETY: `data` is not null (checked above), so it is valid for reading `len` bytes
        // (caller's guarantee), and `len` is at most the ring's largest payload (the
        // reservation succeeded), far below `isize::MAX`.
        let bytes = unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len as usize) };
        r.write(0, bytes);
    }
    r.commit(flags & FLAGS);
    0
}

/// A C driver that consumes a tx ring: what `struct mymap_tx *` points at (an
/// `Arc::into_raw` reference, the caller's, released by `mymap_tx_detach`).
struct CConsumer {
    tx: Arc<TxRing>,
    kick: mymap_tx_kick_fn,
    ctx: *mut c_void,
}

// SAFETY: `ctx` is only passed back to the caller's callbacks, which the header's contract
// lets the kernel call from any thread (a kick from whichever process kicks).
unsafe impl Send for CConsumer {}
// SAFETY: see `Send`; nothing here is mutated after `mymap_tx_attach`.
unsafe impl Sync for CConsumer {}

impl TxConsumer for CConsumer {
    fn kick(&self) -> u32 {
        if let Some(kick) = self.kick {
            // SAFETY: the caller of `mymap_tx_attach` gave this function and context, valid
            // until `mymap_tx_detach`, which waits for this call (it runs under the tx ring's
            // consumer slot lock) and after which no kick comes.
            unsafe { kick(self.ctx) };
        }
        0
    }

    fn control(&self, _op: u32) -> Result<u32> {
        // Only a GPIO player takes `MYMAP_TX_IOC_PLAY`.
        Err(ENODEV)
    }

    fn shut_down(&self) {}
}

/// `ERR_PTR(err)`.
fn err_ptr<T>(err: Error) -> *mut T {
    core::ptr::without_provenance_mut(err.to_errno() as isize as usize)
}

/// `mymap_tx_attach()`: see `include/linux/mymap_ring.h`.
#[no_mangle]
pub(crate) extern "C" fn mymap_tx_attach(
    index: c_uint,
    kick: mymap_tx_kick_fn,
    ctx: *mut c_void,
) -> *mut mymap_tx {
    let ptr = TX_REGISTRY
        .get(index as usize)
        .map_or(core::ptr::null(), |slot| slot.load(Acquire));
    if ptr.is_null() {
        return err_ptr(ENODEV);
    }
    // SAFETY: `ptr` is the registry's `Arc::into_raw` reference, alive while the registry
    // holds it, which it does while any caller module is loaded (module docs).
    let tx = Arc::from(unsafe { kernel::sync::ArcBorrow::from_raw(ptr) });
    let consumer = match Arc::new(CConsumer { tx, kick, ctx }, GFP_KERNEL) {
        Ok(c) => c,
        Err(_) => return err_ptr(ENOMEM),
    };
    if let Err(e) = consumer.tx.set_consumer(consumer.clone()) {
        pr_debug!("tx {}: attach refused: it has a consumer\n", index);
        return err_ptr(e);
    }
    Arc::into_raw(consumer).cast_mut().cast()
}

/// `mymap_tx_detach()`.
///
/// # Safety
///
/// `tx` was returned by [`mymap_tx_attach`] and is not used after this call.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_tx_detach(tx: *mut mymap_tx) {
    // SAFETY: `tx` is the reference made by `Arc::into_raw` in `mymap_tx_attach`, released
    // here once (caller's guarantee).
    let consumer = unsafe { Arc::from_raw(tx.cast::<CConsumer>().cast_const()) };
    // Waits for a running kick; the slot's reference goes with it.
    drop(consumer.tx.take_consumer_if(tx.cast::<u8>()));
}

/// `mymap_tx_drain()`.
///
/// # Safety
///
/// `tx` was returned by [`mymap_tx_attach`] and not yet detached; `f` is null or a function
/// that may be called with `ctx` and a record, under a spinlock.
#[no_mangle]
pub(crate) unsafe extern "C" fn mymap_tx_drain(
    tx: *mut mymap_tx,
    max: u32,
    f: mymap_tx_drain_fn,
    ctx: *mut c_void,
) -> u32 {
    // SAFETY: the caller holds the reference `mymap_tx_attach` made, so the consumer is alive.
    let consumer = unsafe { &*tx.cast::<CConsumer>() };
    let Some(f) = f else {
        return 0;
    };
    consumer.tx.drain(max, |r| {
        let rec = mymap_tx_record {
            payload: r.payload.as_ptr().cast(),
            len: r.payload.len() as u32,
            source: r.source,
            flags: r.flags,
            seq: r.seq,
            timestamp_ns: r.timestamp_ns,
        };
        // SAFETY: `f` and `ctx` are the caller's (its guarantee); `rec` and the payload it
        // points at are alive for the call.
        match unsafe { f(ctx, &rec) } as u32 {
            glue::MYMAP_TX_DRAIN_TAKE => Verdict::Take,
            glue::MYMAP_TX_DRAIN_REJECT => Verdict::Reject,
            _ => Verdict::Stop,
        }
    })
}

// Each definition has the type of the header's declaration (bindgen's, in `glue`): an array
// of the two coerces both to one function pointer type, which fails to compile if their
// parameters or return types differ.
const _: () = {
    let _ = [glue::mymap_ring_get, mymap_ring_get];
    let _ = [glue::mymap_ring_put, mymap_ring_put];
    let _ = [glue::mymap_ring_max_payload, mymap_ring_max_payload];
    let _ = [glue::mymap_ring_reserve, mymap_ring_reserve];
    let _ = [glue::mymap_ring_reserve_at, mymap_ring_reserve_at];
    let _ = [glue::mymap_ring_commit, mymap_ring_commit];
    let _ = [glue::mymap_ring_discard, mymap_ring_discard];
    let _ = [glue::mymap_ring_output, mymap_ring_output];
    let _ = [glue::mymap_tx_attach, mymap_tx_attach];
    let _ = [glue::mymap_tx_detach, mymap_tx_detach];
    let _ = [glue::mymap_tx_drain, mymap_tx_drain];
};
