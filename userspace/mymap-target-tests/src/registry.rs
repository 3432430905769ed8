// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The registry: every test by name, in the order they run, with its timeout.

use crate::{
    buffer,
    direct_io,
    faults,
    gpio,
    harness::Test,
    player,
    ring_holder,
    ring_hunt,
    ring_stress,
    ring_tests,
    samples,
    stress,
    trinity,
    tx, //
};

/// The tests a 32-bit build runs on a 64-bit kernel (`--compat`): the ioctl layout
/// and request codes, file semantics and mappings.
pub const COMPAT: &[&str] = &[
    "info",
    "ioctl-unknown-enotty",
    "ioctl-info-efault",
    "clear",
    "read-short-and-eof",
    "write-enospc-and-partial",
    "lseek",
    "mmap-shared-coherent",
    "mmap-offset-and-bounds",
    "fault-dontneed-shared",
    "fault-dontneed-private",
    "fault-mremap-move-and-shrink",
    "o-direct-shared-mapping",
    "vmsplice-from-mapping",
    "ring-info",
    "ring-mmap-rules",
    "ring-consumer-claim",
    "ring-order-no-loss",
    "ring-drop-counting",
    "ring-read",
    "ring-poll-readiness",
    "ring-wakeup-set-get",
    "ring-wakeup-caught-up",
    "ring-timer",
    "ring-producer-arguments",
    "tx-info-and-rules",
    "tx-echo-order-many-laps",
    "tx-poll-writable",
    "tx-hostile-producer",
];

pub fn all() -> Vec<Test> {
    macro_rules! tests {
        ($($name:literal => $f:path, $timeout:literal $(if $when:path)?;)*) => {
            vec![$(Test { name: $name, run: $f, timeout: $timeout, when: tests!(@when $($when)?) }),*]
        };
        (@when) => { None };
        (@when $when:path) => { Some($when) };
    }
    tests![
        "greeting-and-zeroed" => buffer::greeting_and_zeroed, 30;
        "node-mode-and-group" => buffer::node_mode_and_group, 30;
        "unprivileged-refused" => buffer::unprivileged_refused, 30;
        "info" => buffer::info, 30;
        "ioctl-unknown-enotty" => buffer::ioctl_unknown, 30;
        "ioctl-info-efault" => buffer::ioctl_info_efault, 30;
        "clear" => buffer::clear, 30;
        "clear-needs-write-access" => buffer::clear_needs_write, 30;
        "read-short-and-eof" => buffer::read_short_and_eof, 30;
        "write-enospc-and-partial" => buffer::write_enospc_and_partial, 30;
        "read-write-efault" => buffer::read_write_efault, 30;
        "lseek" => buffer::lseek, 30;
        "mmap-shared-coherent" => buffer::mmap_shared_coherent, 30;
        "mmap-shared-across-processes" => buffer::mmap_shared_across_processes, 30;
        "mmap-private-readonly" => buffer::mmap_private_readonly, 60;
        "mmap-private-write-cow" => buffer::mmap_private_write_cow, 30;
        "mmap-offset-and-bounds" => buffer::mmap_offset_and_bounds, 30;
        "mmap-exec-refused" => buffer::mmap_exec_refused, 30;
        "mremap-grow-refused" => buffer::mremap_grow_refused, 30;
        "mmap-rdonly-fd-no-shared-write" => buffer::mmap_rdonly_no_shared_write, 30;
        "fault-dontneed-shared" => faults::dontneed_shared, 30;
        "fault-dontneed-private" => faults::dontneed_private, 30;
        "fault-mremap-move-and-shrink" => faults::mremap_move_and_shrink, 30;
        "fault-split-by-mprotect-and-munmap" => faults::split_by_mprotect_and_munmap, 30;
        "fault-fork-then-dontneed" => faults::fork_then_dontneed, 30;
        "fault-cold-pageout-mlock" => faults::cold_pageout_mlock, 30;
        "fault-populate-and-proc-mem" => faults::populate_and_proc_mem, 30;
        "fault-race-dontneed" => faults::faults_race_dontneed, 60;
        "fdinfo" => buffer::fdinfo, 30;
        "no-kernel-addresses-in-log" => buffer::no_kernel_addresses_in_log, 30;
        "copy-to-and-from-own-mapping" => buffer::copy_with_own_mapping, 60;
        "o-direct-shared-mapping" => direct_io::shared_mapping, 60;
        "o-direct-private-mapping" => direct_io::private_mapping, 60;
        "vmsplice-from-mapping" => direct_io::vmsplice_from_mapping, 60;
        "concurrent-clear-read-write-serialised" => buffer::concurrent_serialised, 120;
        "concurrent-open-map-close" => buffer::concurrent_open_map_close, 120;
        "stress-random-operations" => stress::random_operations, 120;
        "fuzz-arguments" => stress::fuzz_arguments, 60;
        "ring-info" => ring_tests::info_and_geometry, 30;
        "ring-mmap-rules" => ring_tests::mmap_rules, 30;
        "ring-consumer-claim" => ring_tests::consumer_claim, 30;
        "ring-order-no-loss" => ring_tests::order_no_loss, 30;
        "ring-order-many-wraps" => ring_tests::order_many_wraps, 120;
        "ring-drop-counting" => ring_tests::drop_counting, 30;
        "ring-read" => ring_tests::read_records, 60;
        "ring-read-killable" => ring_tests::read_killable, 60;
        "ring-poll-readiness" => ring_tests::poll_readiness, 30;
        "ring-wakeup-set-get" => ring_tests::wakeup_set_get, 30;
        "ring-wakeup-every" => ring_tests::wakeup_every, 60;
        "ring-wakeup-caught-up" => ring_tests::wakeup_caught_up, 60;
        "ring-wakeup-nobody-waiting" => ring_tests::wakeup_nobody_waiting, 60;
        "ring-wakeup-watermark" => ring_tests::wakeup_watermark, 60;
        "ring-timer" => ring_tests::timer_producer, 60;
        "ring-producer-arguments" => ring_tests::producer_arguments, 30;
        "ring-several-producers" => ring_stress::several_producers, 120;
        "ring-hostile-consumer" => ring_stress::hostile_consumer, 90;
        "ring-hostile-pending-reservation" => ring_holder::hostile_pending_reservation, 240 if ring_holder::has_holder_module;
        "ring-lost-wakeup-hunt" => ring_hunt::lost_wakeup_hunt, 120;
        "ring-stress" => ring_stress::stress, 180;
        "ring-rmmod-consumer" => ring_stress::rmmod_consumer, 60;
        "ring-rmmod-timer" => ring_stress::rmmod_timer, 60;
        "ring-params-refused" => ring_stress::params_refused, 120;
        "ring-params-rings-and-size" => ring_stress::params_rings_and_size, 180;
        "ring-c-consumer" => samples::c_consumer, 120;
        "ring-rust-example" => samples::rust_example, 120;
        "ring-sample-producer" => samples::sample_producer, 120;
        "ring-sample-discard-and-refused" => samples::sample_discard_and_refused, 120;
        "ring-sample-with-c-consumer" => samples::sample_with_c_consumer, 120;
        "tx-info-and-rules" => tx::info_and_rules, 30;
        "tx-echo-order-many-laps" => tx::echo_order_many_laps, 120;
        "tx-poll-writable" => tx::poll_writable, 60;
        "tx-hostile-producer" => tx::hostile_producer, 180;
        "tx-torn-records" => tx::torn_records, 120;
        "tx-params" => tx::params, 120;
        "tx-sample-consumer" => tx::sample_consumer, 120;
        "tx-c-producer" => tx::c_producer, 60;
        "player-plays-in-order" => player::plays_in_order, 240;
        "player-late-stop-start-flush" => player::late_stop_start_flush, 120;
        "player-unload-while-playing" => player::unload_while_playing, 120;
        "player-load-errors" => player::load_errors, 120;
        "lifetime-open-file-pins-module" => buffer::lifetime_open_file, 60;
        "lifetime-mapping-pins-module-and-pages" => buffer::lifetime_mapping, 60;
        "params-refused" => buffer::params_refused, 120;
        "params-size-and-devices" => buffer::params_size_and_devices, 120;
        "gpio-pulses-both" => gpio::pulses_both, 120;
        "gpio-pulses-rising" => gpio::pulses_rising, 120;
        "gpio-pulses-falling" => gpio::pulses_falling, 120;
        "gpio-timestamp-within-write" => gpio::timestamp_within_write, 120;
        "gpio-line-requested-by-mymap" => gpio::line_requested_by_mymap, 60;
        "gpio-load-errors" => gpio::load_errors, 120;
        "gpio-storm-drops-counted" => gpio::storm_drops_counted, 300;
        "gpio-unload-while-pulsing" => gpio::unload_while_pulsing, 300;
        "gpio-nested-threaded-irq" => gpio::nested_threaded_irq, 120;
        "gpio-device-tree-producer" => gpio::device_tree_producer, 60 if gpio::has_device_tree_node;
        "fuzz-trinity" => trinity::trinity, 300 if trinity::on_debug_kernel;
        "load-unload-cycles" => buffer::load_unload_cycles, 600;
        "kmemleak-after-cycles" => stress::kmemleak_after_cycles, 900 if stress::has_kmemleak;
    ]
}
