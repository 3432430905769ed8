// SPDX-License-Identifier: GPL-2.0

//! What the Rust abstractions of kernel 7.3 lack, filled in the shape upstream would take.
//!
//! Each item says which abstraction it extends and what is missing there. The
//! rest of the driver uses these items, never the raw bindings behind them (the
//! few `unsafe` ones, the `f_op` switch in `open`, a `fault` handler's table and
//! the contracts of the two `unsafe trait`s, each with a one-line proof where
//! used), so the day the kernel gains one of them, its item here is deleted and
//! its users switch to the kernel's:
//!
//! - [`MiscDeviceExt`]: the `poll` and `llseek` hooks of `MiscDevice`;
//! - [`PollQueue`] and its [`PollTable`]: `PollCondVar` with a way to ask whether anyone
//!   is registered (`waitqueue_active()`), so that a producer skips a wakeup for nobody;
//! - [`VmOps`]: `vm_operations_struct` and a `vm_ops` setter for `VmaNew`;
//! - [`read_only_param!`]: module parameters that appear in sysfs;
//! - [`IrqWork`]: `struct irq_work`;
//! - [`DetachedHrTimer`]: an `HrTimer` started without a handle, cancelled by its owner.
//!
//! Everything else the driver needs has a kernel abstraction, which it uses
//! (`kernel::time::hrtimer` for both of its timers, `CondVar`, `VmaNew`).

use core::{
    cell::UnsafeCell,
    marker::{
        PhantomData,
        PhantomPinned, //
    },
};
use kernel::{
    bindings,
    fs::{
        File,
        LocalFile, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions, //
    },
    mm::virt::VmaNew,
    prelude::*,
    sync::{
        rcu::synchronize_rcu,
        LockClassKey, //
    },
    time::hrtimer::{
        HasHrTimer,
        HrTimerCallback,
        HrTimerMode,
        UnsafeHrTimerPointer, //
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// What [`MiscDevice`] lacks: the `f_op->poll` and `f_op->llseek` hooks.
///
/// Upstream would add them to `MiscDevice` and its vtable. Here a type implements this trait
/// beside `MiscDevice` (both with `#[vtable]`), and its `open` calls
/// [`MiscDeviceExt::use_extended_fops`], which switches the new file to a copy of the misc
/// vtable with the hooks added.
#[vtable]
pub(crate) trait MiscDeviceExt: MiscDevice {
    /// `f_op->poll`: registers on `table` and returns the `EPOLL*` mask.
    fn poll(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _table: PollTable<'_>,
    ) -> u32 {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `f_op->llseek`: the new position.
    fn llseek(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _seek: Seek<'_>,
    ) -> Result<i64> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The misc vtable that `MiscDevice` builds for `Self`, plus the hooks above.
    const EXTENDED_FOPS: &'static FileOps = &FileOps::new::<Self>();

    /// Switches `file` to [`MiscDeviceExt::EXTENDED_FOPS`].
    ///
    /// `do_dentry_open()` looks at `f_op->llseek` only after `open` has returned, so the file
    /// keeps `FMODE_LSEEK`.
    ///
    /// # Safety
    ///
    /// `file` is the file that `Self::open` is opening.
    unsafe fn use_extended_fops(file: &File) {
        // SAFETY: `file` is being opened (caller's guarantee): it is not yet installed in any
        // file table, so no other thread reads `f_op`. The new table is a copy of the one the
        // misc core installed (same functions, same `owner`), so the module reference taken
        // for the old `f_op` is the one `fput()` drops for the new one. The table is a
        // constant of this module, which cannot be unloaded while the file holds that
        // reference.
        unsafe { (*file.as_ptr()).f_op = &Self::EXTENDED_FOPS.0 };
    }
}

/// A `file_operations` that may live in a `static` or a constant.
#[repr(transparent)]
pub(crate) struct FileOps(bindings::file_operations);

// SAFETY: the table is never written after compile time; the C code only reads it, from any
// thread, as it does for every `const struct file_operations`.
unsafe impl Sync for FileOps {}

impl FileOps {
    const fn new<T: MiscDeviceExt>() -> Self {
        let misc = MiscDeviceOptions { name: c"" }.into_raw::<T>();
        // SAFETY: `into_raw` points `fops` at the abstraction's `'static` vtable for `T`, a
        // valid, initialised `file_operations`; copying it is a plain read.
        let base = unsafe { *misc.fops };
        Self(bindings::file_operations {
            poll: if T::HAS_POLL {
                Some(poll::<T>)
            } else {
                base.poll
            },
            llseek: if T::HAS_LLSEEK {
                Some(llseek::<T>)
            } else {
                base.llseek
            },
            ..base
        })
    }
}

/// The device of a file opened through `T`'s misc vtable, between `open` and `release`.
///
/// # Safety
///
/// `file` is valid, was opened through `T`'s misc vtable, and its `release` has not run.
unsafe fn device<'a, T: MiscDevice>(
    file: *mut bindings::file,
) -> <T::Ptr as ForeignOwnable>::Borrowed<'a> {
    // SAFETY: after `open` the private data is the pointer that the misc vtable's `open` made
    // with `into_foreign`; the file holds it until `release`, which cannot run during a file
    // operation (caller's guarantee).
    unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) }
}

/// `f_op->poll` of [`MiscDeviceExt::EXTENDED_FOPS`].
///
/// # Safety
///
/// `file` is valid for the call and was opened through `T`'s misc vtable; `table` is null or a
/// valid `poll_table` for the call.
unsafe extern "C" fn poll<T: MiscDeviceExt>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: only files that `T::open` switched to this table reach this function, and the
    // VFS calls `f_op->poll` between `open` and `release` (caller's guarantee).
    let device = unsafe { device::<T>(file) };
    // SAFETY: `file` is valid for the call (caller's guarantee). `poll` holds no
    // `fdget_pos()` region, and nothing here reads or writes `f_pos`, which is what `File`
    // guards against an unlocked region elsewhere (Binder's `poll` makes the same `File`).
    let file = unsafe { File::from_raw_file(file) };
    // INVARIANT: `table` is null or valid for the call (caller's guarantee), and the
    // `PollTable` lives only as long as the call.
    T::poll(
        device,
        file,
        PollTable {
            table,
            _call: PhantomData,
        },
    )
}

/// A wait queue for `poll()`: `kernel::sync::poll::PollCondVar` without the condition
/// variable, plus [`PollQueue::active`].
///
/// `PollCondVar` keeps its `wait_queue_head` to the kernel crate, so its user cannot ask
/// `waitqueue_active()`, and a producer that runs for every record would queue a wakeup for
/// nobody each time (the ring's spinning consumer). Blocking `read()`s keep the kernel's
/// `CondVar`; this queue is only for `poll()`/`epoll` registrations.
///
/// # Invariants
///
/// `head` is an initialised `wait_queue_head`, pinned for its whole life; `drop` removes
/// every `poll`/`epoll` entry and waits an RCU grace period before the memory goes, as
/// `PollCondVar`'s does.
#[pin_data(PinnedDrop)]
pub(crate) struct PollQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: a `wait_queue_head` is used from any thread: every change of it is under its own
// spinlock, and `active` is the one lockless read, a marked one.
unsafe impl Send for PollQueue {}
// SAFETY: as for `Send`.
unsafe impl Sync for PollQueue {}

impl PollQueue {
    /// A new, empty queue; `name` and `key` are its lock's, for lockdep.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        pin_init!(Self {
            _pin: PhantomPinned,
            // SAFETY: `slot` is valid while the closure runs; `name` and `key` are `'static`.
            head <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// `waitqueue_active()`: whether a `poll()` or `epoll` entry is registered now.
    ///
    /// Store buffering, as the comment on `waitqueue_active()` in `<linux/wait.h>` says: the
    /// waiter adds its entry ([`PollTable::register`]) and then, after a full barrier, looks
    /// at the condition; the caller stores the condition and then, after a full barrier,
    /// calls this. One of the two sees the other's store.
    pub(crate) fn active(&self) -> bool {
        let head = self.head.get();
        // SAFETY: `head` is initialised and pinned (type invariant). `list_empty()` is a
        // `READ_ONCE()` of `head.next`, which `list_add()` and `list_del()` write with
        // `WRITE_ONCE()` under the queue's lock; a volatile read is that marked load. Only the
        // address is compared, nothing is dereferenced.
        let (next, empty) = unsafe {
            (
                core::ptr::read_volatile(&raw const (*head).head.next),
                &raw mut (*head).head,
            )
        };
        next != empty
    }

    /// `wake_up_all()`: wakes every entry. Any context but NMI: it takes the queue's
    /// spinlock with interrupts disabled.
    pub(crate) fn wake_all(&self) {
        // SAFETY: `head` is initialised and pinned (type invariant).
        unsafe {
            bindings::__wake_up(
                self.head.get(),
                bindings::TASK_NORMAL,
                0,
                core::ptr::null_mut(),
            )
        };
    }
}

#[pinned_drop]
impl PinnedDrop for PollQueue {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `head` is initialised (type invariant). Every `poll`/`epoll` entry is taken
        // off the queue, as `PollCondVar`'s drop does.
        unsafe { bindings::__wake_up_pollfree(self.head.get()) };
        // An `epoll` item may still be looking at the queue under RCU: wait for it.
        synchronize_rcu();
    }
}

/// The `poll_table` of an `f_op->poll` call in progress ([`MiscDeviceExt::poll`]): the
/// kernel's `PollTable`, for a [`PollQueue`].
pub(crate) struct PollTable<'a> {
    /// Null, or valid for the call.
    table: *mut bindings::poll_table_struct,
    _call: PhantomData<&'a bindings::poll_table_struct>,
}

impl PollTable<'_> {
    /// `poll_wait()`: registers `file`'s caller on `queue`. A `poll()` implementation then
    /// issues a full barrier before it reads the state it reports (see
    /// [`PollQueue::active`]).
    pub(crate) fn register(&self, file: &File, queue: &PollQueue) {
        // SAFETY: `file` and `self.table` (null, or valid) are valid for this `f_op->poll`
        // call. `queue` is pinned and outlives every entry made here: its drop removes them
        // all and waits an RCU grace period before its memory goes (type invariant).
        unsafe { bindings::poll_wait(file.as_ptr(), queue.head.get(), self.table) }
    }
}

/// An `llseek` call in progress: only the `f_op->llseek` trampoline makes one.
pub(crate) struct Seek<'a> {
    file: &'a LocalFile,
    offset: bindings::loff_t,
    whence: c_int,
}

impl Seek<'_> {
    /// Seeks within `[0, size]` with `SEEK_SET`, `SEEK_CUR` or `SEEK_END`; `EINVAL` for
    /// anything else or a position outside (`fixed_size_llseek()`).
    pub(crate) fn within(self, size: i64) -> Result<i64> {
        // SAFETY: `file` is valid for the call: it is the file of this `llseek` call (only the
        // trampoline makes a `Seek`). `fixed_size_llseek` then changes `f_pos` as every
        // `llseek` implementation does, which the VFS serialises (`fdget_pos()` in `lseek()`).
        let pos = unsafe {
            bindings::fixed_size_llseek(self.file.as_ptr(), self.offset, self.whence, size)
        };
        if pos < 0 {
            // A negative errno.
            return Err(Error::from_errno(pos as c_int));
        }
        Ok(pos)
    }
}

/// `f_op->llseek` of [`MiscDeviceExt::EXTENDED_FOPS`].
///
/// # Safety
///
/// `file` is valid for the call and was opened through `T`'s misc vtable.
unsafe extern "C" fn llseek<T: MiscDeviceExt>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: as in `poll`: only files `T::open` switched to this table come here, between
    // `open` and `release`.
    let device = unsafe { device::<T>(file) };
    // SAFETY: `file` is valid and referenced for the call. An `fdget_pos()` that skipped
    // `f_pos_lock` can only be the one of this `lseek()` (a file with more than one reference
    // takes the lock), on this thread, which is what `LocalFile` allows.
    let file = unsafe { LocalFile::from_raw_file(file) };
    match T::llseek(
        device,
        Seek {
            file,
            offset,
            whence,
        },
    ) {
        Ok(pos) => pos,
        Err(e) => e.to_errno().into(),
    }
}

/// What `kernel::mm::virt::VmaNew` lacks: a setter for `vm_ops`, and a Rust table to set.
///
/// Upstream would take a `VmOperations` trait with a `fault` method on a `VmFault` type; the
/// driver's one handler (`mapping.rs`) stays a C-ABI function over `struct vm_fault` until then.
#[repr(transparent)]
pub(crate) struct VmOps(bindings::vm_operations_struct);

// SAFETY: the table is never written after compile time; the C code only reads it, from any
// thread, as it does for every `const struct vm_operations_struct`.
unsafe impl Sync for VmOps {}

impl VmOps {
    /// The table with `.fault` only.
    ///
    /// # Safety
    ///
    /// The core may call `fault` (with `mmap_lock` or the VMA's lock held) on every mapping
    /// that this table is installed on by [`VmOps::install`]; it must be sound there.
    pub(crate) const unsafe fn fault_only(
        fault: unsafe extern "C" fn(*mut bindings::vm_fault) -> bindings::vm_fault_t,
    ) -> Self {
        Self(bindings::vm_operations_struct {
            fault: Some(fault),
            ..pin_init::zeroed()
        })
    }

    /// Makes this table the operations of `vma`, a mapping being set up.
    pub(crate) fn install(&'static self, vma: &VmaNew) {
        // SAFETY: a `VmaNew` is a VMA inside an `f_op->mmap` hook: the caller holds `mmap_lock`
        // for writing and the VMA is not yet visible to any other thread, so the write races
        // with nothing. The table outlives the mapping: it is a constant of this module, and
        // the mapping holds its file, whose `f_op->owner` (this module, whose hook this is)
        // keeps the module loaded.
        unsafe { (*vma.as_ptr()).vm_ops = &self.0 };
    }
}

/// What the `module!` macro lacks: parameters visible in sysfs.
///
/// Kernel 7.3 registers Rust parameters with permission 0, so they never appear under
/// `/sys/module/<name>/parameters`. [`read_only_param!`] declares one the way C's
/// `module_param(name, type, 0444)` does: a `struct kernel_param` in the `__param` section,
/// parsed and shown by the kernel's own `param_ops_*`, plus the `.modinfo` strings that
/// `modinfo` prints. Upstream would take a `perm` field in `module!`'s `params`.
///
/// # Invariants
///
/// The value is written only by `parse_args()` while the module is loading, before `init`
/// runs, and never afterwards: the parameters are read-only in sysfs (permission 0444), so no
/// `set` call can happen once the module is live.
#[repr(transparent)]
pub(crate) struct ParamValue<T>(UnsafeCell<T>);

// SAFETY: by the type invariant the only write happens before any reader can exist, so shared
// access from several threads only ever reads. For a string (`param_ops_charp`), the string is
// allocated by the parameter code and freed only at unload, after every reader.
unsafe impl<T> Sync for ParamValue<T> {}

impl<T: Copy> ParamValue<T> {
    /// A parameter with this default.
    pub(crate) const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// The value.
    pub(crate) fn get(&self) -> T {
        // SAFETY: by the type invariant no write can run concurrently with this read.
        unsafe { *self.0.get() }
    }

    /// The `arg` of the parameter's `kernel_param`.
    pub(crate) const fn as_arg(&self) -> *mut c_void {
        self.0.get().cast()
    }
}

/// Declares `static $value: ParamValue<$ty>`, a parameter read-only in sysfs (see
/// [`ParamValue`]), with its `kernel_param` and `.modinfo` lines.
macro_rules! read_only_param {
    (
        $value:ident: $ty:ty = $default:expr,
        $ops:ident,
        $name:literal,
        $parmtype:literal,
        $parm:literal $(,)?
    ) => {
        static $value: $crate::kernel_gaps::ParamValue<$ty> =
            $crate::kernel_gaps::ParamValue::new($default);

        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            // `as_char_ptr` is not `const`; the name is ASCII, so the sign of `char` is moot.
            #[expect(clippy::disallowed_methods)]
            static PARAM: ::kernel::module_param::KernelParam =
                ::kernel::module_param::KernelParam::new(::kernel::bindings::kernel_param {
                    name: $name.as_ptr(),
                    // `__this_module` is set up by the module loader and lives until the module
                    // is unloaded, which also ends every use of this parameter.
                    mod_: (&raw const ::kernel::bindings::__this_module).cast_mut(),
                    ops: &raw const ::kernel::bindings::$ops,
                    perm: 0o444,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: $value.as_arg(),
                    },
                });
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; $parmtype.len()] = *$parmtype;
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; $parm.len()] = *$parm;
        };
    };
}
pub(crate) use read_only_param;

/// What the kernel lacks: a Rust `struct irq_work` (7.3 has no abstraction for it).
///
/// Upstream would take the shape of `kernel::workqueue::Work`: a field of the struct whose
/// [`IrqWorkItem::run`] it calls. The work runs in hard-interrupt context (a kernel thread on
/// `PREEMPT_RT`), as `IRQ_WORK_INIT` work does.
///
/// # Invariants
///
/// `work` is initialised as `init_irq_work(work, IrqWork::<T>::run)` does.
#[pin_data]
#[repr(transparent)]
pub(crate) struct IrqWork<T> {
    #[pin]
    work: Opaque<bindings::irq_work>,
    _t: PhantomData<T>,
}

// SAFETY: the `irq_work` functions may be called on a shared work from any thread; the C side
// synchronises them with atomics on the work's flags.
unsafe impl<T: Sync> Sync for IrqWork<T> {}
// SAFETY: a work only refers to itself and to `T`'s function; `T` is pinned (see
// `IrqWorkItem`), so a work is never moved while queued.
unsafe impl<T: Sync> Send for IrqWork<T> {}

/// A struct with an [`IrqWork`] field, and what to do when it runs.
///
/// # Safety
///
/// - `OFFSET` is the byte offset of an `IrqWork<Self>` field of `Self`.
/// - Every value of `Self` is pinned from its creation (made only in an `Arc` or a pinned box).
/// - `Self`'s `drop` calls [`IrqWork::sync`] on that field before any field that
///   [`IrqWorkItem::run`] uses is dropped.
pub(crate) unsafe trait IrqWorkItem: Sized + Sync {
    /// `offset_of!` the work.
    const OFFSET: usize;

    /// Runs in hard-interrupt context: must not sleep or allocate.
    fn run(&self);
}

impl<T: IrqWorkItem> IrqWork<T> {
    /// A work that calls `T::run`.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: initialised as `init_irq_work()` does.
            work <- Opaque::ffi_init(|slot: *mut bindings::irq_work| {
                // SAFETY: `slot` is valid for writing an `irq_work`. All-zero with `func` set is
                // what `init_irq_work()` stores (`IRQ_WORK_INIT`): no flags, not pending.
                unsafe {
                    slot.write(core::mem::zeroed());
                    (*slot).func = Some(Self::run_raw);
                }
            }),
            _t: PhantomData,
        })
    }

    /// Queues the work on this CPU unless it is already pending. Safe in any context, hard
    /// interrupts included.
    pub(crate) fn queue(&self) {
        // SAFETY: `work` is initialised (type invariant) and stays in place until the owner's
        // `drop` has synced it (`IrqWorkItem`'s contract).
        unsafe { bindings::irq_work_queue(self.work.get()) };
    }

    /// Waits until the work is neither pending nor running. Process context: may sleep.
    pub(crate) fn sync(&self) {
        // SAFETY: `work` is initialised (type invariant).
        unsafe { bindings::irq_work_sync(self.work.get()) };
    }

    /// The `irq_work` function.
    ///
    /// # Safety
    ///
    /// `work` is the `work` field of an `IrqWork<T>` queued by [`IrqWork::queue`].
    unsafe extern "C" fn run_raw(work: *mut bindings::irq_work) {
        // SAFETY: `work` is the first and only non-zero-sized field of a `repr(transparent)`
        // `IrqWork<T>`, which is the field at `T::OFFSET` of a `T` (caller's guarantee and
        // `IrqWorkItem`'s contract). That `T` is alive: its `drop` syncs this work before
        // anything `run` uses goes.
        let item = unsafe { &*work.cast::<u8>().sub(T::OFFSET).cast::<T>() };
        item.run();
    }
}

/// What `kernel::time::hrtimer` lacks: a timer started without a handle to keep, and
/// cancelled by its owner.
///
/// `HrTimerPointer::start` returns a handle whose drop cancels the timer, and `HrTimer` has
/// no cancel of its own. A struct that re-arms its own timer from its `&self` methods, in any
/// context, has nowhere to keep such a handle (it would borrow the struct that holds it), and
/// dropping one there would wait for the callback. Upstream would add `HrTimer::cancel`; this
/// trait adds both halves over the kernel's `HrTimer`, whose callback is a `Pin<&Self>`.
///
/// # Safety
///
/// - Every value of `Self` is pinned from its creation (made only in an `Arc` or a pinned box).
/// - `Self`'s `drop` calls [`DetachedHrTimer::cancel_timer`] before any field that its
///   [`HrTimerCallback::run`] uses is dropped.
pub(crate) unsafe trait DetachedHrTimer:
    Sized + Send + Sync + HasHrTimer<Self> + for<'a> HrTimerCallback<Pointer<'a> = Pin<&'a Self>>
{
    /// Starts the timer to expire after `expires`, or restarts it if it was started. Any
    /// context: never sleeps.
    fn start_detached(
        &self,
        expires: <<Self as HasHrTimer<Self>>::TimerMode as HrTimerMode>::Expires,
    ) {
        // SAFETY: every `Self` is pinned from its creation (trait contract).
        let this = unsafe { Pin::new_unchecked(self) };
        // SAFETY: `start` needs `self` alive until the timer is dead, which the handle ensures
        // by cancelling when dropped. The handle is forgotten instead, and `Self`'s `drop`
        // cancels the timer before anything its callback uses goes (trait contract).
        let handle = unsafe { UnsafeHrTimerPointer::start(this, expires) };
        core::mem::forget(handle);
    }

    /// Cancels the timer, waiting for a running callback; whether it was started. Never from
    /// the timer's own callback (it would wait for itself).
    fn cancel_timer(&self) -> bool {
        // SAFETY: `self` is a valid `Self`, so the pointer is to its `HrTimer`, which
        // `hrtimer_setup` initialised (`HrTimer`'s invariant); the C side synchronises
        // `hrtimer_cancel` with starts and callbacks.
        unsafe { bindings::hrtimer_cancel(Self::c_timer_ptr(self).cast_mut()) != 0 }
    }
}
