//! A board's console and the parts of a record, as mymap-bench prints them,
//! for the tests of the bench's modules; plain data, importing none of them
//! (`console::tests::record` is the record this console gives).

use mymap_bench_record::{
    gpio::Gpio,
    ring::Ring,
    tx::Tx, //
};

/// A console as the bench prints it, with a kernel line in the middle of the document.
pub const CONSOLE: &str = "\
[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]
Starting mymap: [   16.628501] mymap: loading out-of-tree module taints kernel.
[   16.668064] mymap: 1 device(s) of 65536 bytes: /dev/mymap
OK
MYMAP-JOB: BEGIN
[   17.000100] mymap-bench: started
id           size    mymap  baseline  ratio  target  met
MYMAP-BENCH-JSON: BEGIN
{
  \"schema\": 5,
  \"kernel\": \"7.3.4\",
  \"page_size\": 4096,
  \"reps\": 3,
  \"uptime_at_start_s\": 20.5,
  \"devices\": [
    {\"id\": \"mymap\", \"module\": \"mymap\", \"node\": \"/dev/mymap\", \"label\": \"mymap\", \"role\": \"driver\"},
    {\"id\": \"pfn\", \"module\": \"mymap_pfn\", \"node\": \"/dev/mymap-pfn\", \"label\": \"remap_pfn_range\", \"role\": \"peer\"}
  ],
  \"comparisons\": [
    {\"id\": \"mapped-read\", \"what\": \"read through a mapping vs anonymous memory\", \"side\": \"m\", \"base\": \"a\", \"size\": 16777216, \"bytes\": 16777216, \"ratio_is\": \"throughput ratio: ...\", \"target\": {\"against\": \"baseline\", \"bound\": \">= 0.97\", \"text\": \">= 0.97\"}, \"met\": true, \"best_peer\": \"pfn\", \"vs_best_peer\": 0.9,
      \"baseline\": {\"median_s\": 0.0396, \"mib_s\": 404, \"minflt\": 0, \"s\": [0.0396]},
      \"devices\": [
        {\"device\": \"mymap\", \"ratio\": 0.99, \"median_s\": 0.04, \"mib_s\": 400, \"minflt\": 0, \"s\": [0.04]},
[   40.100000] mymap: 1 device(s) of 65536 bytes: /dev/mymap
        {\"device\": \"pfn\", \"ratio\": 1.1, \"median_s\": 0.036, \"mib_s\": 444.4, \"minflt\": 0, \"s\": [0.036]}
      ]},
    {\"id\": \"touch-read-16m\", \"what\": \"mmap + first read vs MAP_POPULATE\", \"side\": \"m\", \"base\": \"p\", \"size\": 16777216, \"bytes\": 16777216, \"ratio_is\": \"time ratio: ...\", \"target\": {\"against\": \"best peer\", \"bound\": \"<= 1\", \"text\": \"<= 1 x best peer\"}, \"met\": false, \"best_peer\": \"pfn\", \"vs_best_peer\": 5,
      \"baseline\": {\"median_s\": 0.01, \"mib_s\": 1600, \"minflt\": 4096, \"s\": [0.01]},
      \"devices\": [
        {\"device\": \"mymap\", \"ratio\": 0.2, \"median_s\": 0.002, \"mib_s\": 8000, \"minflt\": 0, \"s\": [0.002]},
        {\"device\": \"pfn\", \"ratio\": 0.04, \"median_s\": 0.0004, \"mib_s\": 40000, \"minflt\": 0, \"s\": [0.0004]}
      ]},
    {\"id\": \"read-4k\", \"what\": \"read() in 4 KiB chunks vs memcpy\", \"side\": \"r\", \"base\": \"c\", \"size\": 16777216, \"bytes\": 16777216, \"ratio_is\": \"time ratio: ...\", \"target\": null, \"met\": null, \"best_peer\": null, \"vs_best_peer\": null,
      \"baseline\": {\"median_s\": null, \"mib_s\": null, \"minflt\": null, \"s\": []},
      \"devices\": [
        {\"device\": \"mymap\", \"ratio\": null, \"median_s\": null, \"mib_s\": null, \"minflt\": null, \"s\": []}
      ]}
  ],
  \"module_load\": [
    {\"size\": 65536, \"devices\": [
      {\"device\": \"mymap\", \"modprobe_s\": 0.021, \"node_s\": 0.05, \"modprobe_samples_s\": [0.021], \"node_samples_s\": [0.05]},
      {\"device\": \"pfn\", \"modprobe_s\": 0.011, \"node_s\": 0.02, \"modprobe_samples_s\": [0.011], \"node_samples_s\": [0.02]}
    ]}
  ],
  \"ring\": null
}
MYMAP-BENCH-JSON: END
MYMAP-JOB: END rc=0
";

/// The ring part of a document as mymap-bench prints it (cut to one side or
/// round where the layout repeats).
pub const RING_JSON: &str = r#"{
    "node": "/dev/mymap-ring0", "data_size": 262144, "max_payload": 65512, "rounds": 2,
    "throughput": [
      {"id": "records-64", "what": "64-byte records per second", "unit": "records/s", "len": 64, "attempted": 1000, "sides": [
        {"id": "ring-spin", "label": "ring, spinning consumer", "policy": "quiet", "per_s": 585588.6, "drop_fraction": 0, "wakeups_per_record": 0, "producer_share": 1, "rounds": [
          {"delivered": 1000, "dropped": 0, "elapsed_s": 0.002, "producer_s": 0.002, "wakeups": 0, "waits": null},
          {"delivered": 900, "dropped": 100, "elapsed_s": 0.002, "producer_s": 0.001, "wakeups": 0, "waits": null}]},
        {"id": "pipe", "label": "pipe, one write() per record", "policy": null, "per_s": 135841.9, "drop_fraction": 0, "wakeups_per_record": null, "producer_share": null, "rounds": [
          {"delivered": 1000, "dropped": 0, "elapsed_s": 0.007, "producer_s": null, "wakeups": null, "waits": 400}]}]},
      {"id": "bytes-4k", "what": "payload bytes per second, 4 KiB records", "unit": "bytes/s", "len": 4096, "attempted": 64, "sides": [
        {"id": "memcpy", "label": "memcpy of the same bytes", "policy": null, "per_s": 3970000000, "drop_fraction": 0, "wakeups_per_record": null, "producer_share": null, "rounds": [
          {"delivered": 64, "dropped": 0, "elapsed_s": 0.00007, "producer_s": null, "wakeups": null, "waits": null}]}]}
    ],
    "latency": [
      {"id": "latency-1k", "rate_hz": 1000, "len": 64, "records": 500, "sides": [
        {"id": "ring-caught-up", "label": "ring, epoll consumer", "policy": "caught-up", "n": 1000, "median_ns": 73776, "p99_ns": 251824, "max_ns": 8397104, "rounds": [
          {"n": 500, "median_ns": 96608, "p99_ns": 129248, "max_ns": 157744, "dropped": 0, "wakeups": 500},
          {"n": 500, "median_ns": 66240, "p99_ns": 455264, "max_ns": 8397104, "dropped": 1, "wakeups": 497}]},
        {"id": "pipe", "label": "pipe, blocking read()", "policy": null, "n": 500, "median_ns": 44784, "p99_ns": 145360, "max_ns": 3486112, "rounds": [
          {"n": 500, "median_ns": 40160, "p99_ns": 118608, "max_ns": 238560, "dropped": null, "wakeups": null}]}]}
    ],
    "wakeups": [
      {"load": "bursts", "load_text": "injector bursts", "policy": "every", "policy_text": "EVERY", "wakeups_per_record": 1, "waits_per_record": 0.3, "rounds": [{"records": 4097, "dropped": 0, "wakeups": 4097, "waits": 1235}]},
      {"load": "bursts", "load_text": "injector bursts", "policy": "caught-up", "policy_text": "CAUGHT_UP", "wakeups_per_record": 0.0842, "waits_per_record": 0.1, "rounds": [{"records": 4097, "dropped": 0, "wakeups": 345, "waits": 430}]}
    ],
    "timer_rates": [
      {"requested_hz": 1000, "consumer": "epoll", "fired_hz": 991.7, "delivered_hz": 991.7, "rounds": [{"elapsed_s": 1.0003, "fired": 992, "delivered": 992, "dropped": 0}]},
      {"requested_hz": 1000, "consumer": "spin", "fired_hz": 995, "delivered_hz": 995, "rounds": [{"elapsed_s": 1.0003, "fired": 995, "delivered": 995, "dropped": 0}]},
      {"requested_hz": 100000, "consumer": "epoll", "fired_hz": 18500, "delivered_hz": 18500, "rounds": [{"elapsed_s": 1.0003, "fired": 18500, "delivered": 18500, "dropped": 0}]},
      {"requested_hz": 100000, "consumer": "spin", "fired_hz": 17000, "delivered_hz": 17000, "rounds": [{"elapsed_s": 1.0003, "fired": 17000, "delivered": 17000, "dropped": 0}]}
    ],
    "ratios": [
      {"id": "records-64-ring-spin-vs-pipe", "what": "ring, spinning consumer / pipe, records/s", "measurement": "records-64", "side": "ring-spin", "against": "pipe", "quantity": "records/s", "ratio": 4.439, "target": ">= 10", "met": false, "rounds": [4.2, 4.6]},
      {"id": "drain-64-ring-drain-vs-read-drain", "what": "drain / read() drain, records/s", "measurement": "drain-64", "side": "ring-drain", "against": "read-drain", "quantity": "records/s", "ratio": 43.4, "target": null, "met": null, "rounds": [43.4, null]},
      {"id": "latency-1k-ring-caught-up-vs-pipe", "what": "p99 latency at 1000 records/s, ring (caught-up) / pipe", "measurement": "latency-1k", "side": "ring-caught-up", "against": "pipe", "quantity": "p99 latency", "ratio": 0.927, "target": "<= 1", "met": true, "rounds": [0.9]}
    ]
  }"#;

pub fn ring() -> Ring {
    serde_json::from_str(RING_JSON).unwrap()
}

/// A `gpio` object as mymap-bench prints it.
pub const GPIO_JSON: &str = r#"{
    "chip": "mymap-bench-sim",
    "ring_line": 0,
    "cdev_line": 1,
    "tick_hz": 250,
    "edges_per_round": 2,
    "gap_ns": 2000000,
    "rate_round_s": 1,
    "ring_data_size": 262144,
    "cdev_event_buffer": 16,
    "write": {"n": 4, "median_ns": 30000, "p99_ns": 50000, "max_ns": 50000},
    "latency": [
      {"id": "ring", "label": "mymap ring (GPIO producer, epoll)", "stamp": {"n": 2, "median_ns": 20000, "p99_ns": 25000, "max_ns": 25000}, "stamp_before_write": 0, "stamp_in_window": 1, "wake": {"n": 2, "median_ns": 90000, "p99_ns": 120000, "max_ns": 120000}, "rounds": [{"stamp": {"n": 2, "median_ns": 20000, "p99_ns": 25000, "max_ns": 25000}, "wake": {"n": 2, "median_ns": 90000, "p99_ns": 120000, "max_ns": 120000}, "in_window": 2}]},
      {"id": "cdev", "label": "GPIO character device (edge events, epoll)", "stamp": {"n": 2, "median_ns": 21000, "p99_ns": 26000, "max_ns": 26000}, "stamp_before_write": 0, "stamp_in_window": 0.5, "wake": {"n": 2, "median_ns": 150000, "p99_ns": 200000, "max_ns": 200000}, "rounds": [{"stamp": {"n": 2, "median_ns": 21000, "p99_ns": 26000, "max_ns": 26000}, "wake": {"n": 2, "median_ns": 150000, "p99_ns": 200000, "max_ns": 200000}, "in_window": 1}]}
    ],
    "rates": [
      {"id": "ring", "label": "mymap ring (GPIO producer, epoll)", "writes_per_s": 20000, "interrupts_per_s": 8000, "delivered_per_s": 8000, "dropped": 0, "rounds": [{"elapsed_s": 1, "writes": 20000, "interrupts": 8000, "delivered": 8000, "dropped": 0}]},
      {"id": "cdev", "label": "GPIO character device (edge events, epoll)", "writes_per_s": 20000, "interrupts_per_s": 7000, "delivered_per_s": 6500, "dropped": 500, "rounds": [{"elapsed_s": 1, "writes": 20000, "interrupts": 7000, "delivered": 6500, "dropped": 500}]}
    ],
    "ratios": [
      {"id": "gpio-wake-p99", "what": "GPIO edge to consumer wakeup, p99: ring / character device", "ratio": 0.6, "target": "<= 1", "met": true, "rounds": [0.6]},
      {"id": "gpio-stamp-tick", "what": "GPIO record timestamp minus injection, p99 / tick (250 Hz)", "ratio": 0.00625, "target": "<= 1", "met": true, "rounds": [0.00625]}
    ]
  }"#;

pub fn gpio() -> Gpio {
    serde_json::from_str(GPIO_JSON).unwrap()
}

/// A `tx` object as mymap-bench prints it.
pub const TX_JSON: &str = r#"{
    "chip": "mymap-bench-tx",
    "player_line": 0,
    "cdev_line": 1,
    "lead_ns": 10000000,
    "jitter": [
      {"id": "jitter-1k", "rate_hz": 1000, "sets": 2, "sides": [
        {"id": "player", "label": "mymap GPIO player (tx ring, hrtimer, workqueue on gpio-sim)", "error": {"n": 2, "median_ns": 20000, "p99_ns": 40000, "max_ns": 40000}, "late": 1, "rounds": [{"error": {"n": 2, "median_ns": 20000, "p99_ns": 40000, "max_ns": 40000}, "late": 1, "prepare_ns": 300000}]},
        {"id": "cdev-loop", "label": "userspace loop (clock_nanosleep TIMER_ABSTIME, GPIO chardev set)", "error": {"n": 2, "median_ns": 60000, "p99_ns": 100000, "max_ns": 100000}, "late": 0, "rounds": [{"error": {"n": 2, "median_ns": 60000, "p99_ns": 100000, "max_ns": 100000}, "late": 0, "prepare_ns": 0}]}
      ]}
    ],
    "commands": {"id": "commands-16", "payload_len": 16, "batch": 256, "per_round": 1000, "sides": [
      {"id": "tx-batch", "label": "TxRing::try_play, one MYMAP_TX_IOC_KICK per 256 records", "per_s": 2000000, "rounds": [{"commands": 1000, "elapsed_s": 0.0005, "syscalls": 4}]},
      {"id": "tx-kick-each", "label": "one MYMAP_TX_IOC_KICK per record", "per_s": 100000, "rounds": [{"commands": 1000, "elapsed_s": 0.01, "syscalls": 1000}]}
    ]},
    "ratios": [
      {"id": "jitter-1k-player-vs-cdev-loop", "what": "toggle error (actual - requested, absolute) at 1000 sets/s, p99: player / userspace loop (moonshot <= 0.1)", "ratio": 0.4, "target": "<= 0.5", "met": true, "rounds": [0.4]},
      {"id": "commands-16-tx-batch-vs-tx-kick-each", "what": "commands accepted from one thread, per second: tx ring, one kick per batch / one kick per command", "ratio": 20, "target": ">= 10", "met": true, "rounds": [20]}
    ]
  }"#;

pub fn tx() -> Tx {
    serde_json::from_str(TX_JSON).unwrap()
}
