//! What the board's console says: the target's JSON document between its
//! marker lines (read by mymap-bench-record's `console`, the writer's other
//! end), and the printk times of the driver's load and the bench's start.

pub use mymap_bench_record::console::extract;
use mymap_bench_record::{
    console::printk_time,
    STARTED, //
};

/// The printk time of the driver's first load line: `[ t] mymap: N device(s) ...`.
pub fn device_registered_at(console: &str) -> Option<f64> {
    first_printk(console, "mymap: ", " device(s) ")
}

/// The printk time of the line mymap-bench writes to the kernel log at start.
pub fn bench_started_at(console: &str) -> Option<f64> {
    first_printk(console, STARTED, "")
}

/// The time of the first kernel line whose message starts with `message` and
/// contains `also`. Init may print on the same line before the kernel's
/// (`Starting mymap: [ t] mymap: ...`).
fn first_printk(console: &str, message: &str, also: &str) -> Option<f64> {
    let needle = format!("] {message}");
    console.lines().find_map(|line| {
        let at = line.find(&needle)?;
        if !line[at..].contains(also) {
            return None;
        }
        let open = line[..at].rfind('[')?;
        printk_time(&line[open..])
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use mymap_bench_record::{
        PeerModule,
        Record, //
    };

    use super::*;
    use crate::bench::testdata::{
        self,
        CONSOLE, //
    };

    /// The record of [`CONSOLE`], with the host's facts of a test.
    pub(crate) fn record() -> Record {
        Record {
            board: "qemu-aarch64-virt".into(),
            description: "QEMU virt".into(),
            emulated: true,
            accelerator: "tcg".into(),
            host_cpu: "Some CPU (2 CPUs)".into(),
            host_load: Some(1.25),
            kernel_release: "7.3.4".into(),
            kernel_source: "linux-source-7.3".into(),
            commit: "abc1234".into(),
            boot_to_device_s: device_registered_at(CONSOLE),
            boot_to_bench_s: bench_started_at(CONSOLE),
            mymap_ko_bytes: 100,
            mymap_read_bytes: 200,
            peer_modules: vec![PeerModule {
                module: "mymap_pfn".into(),
                bytes: 300,
            }],
            target: extract(CONSOLE).unwrap(),
        }
    }

    #[test]
    fn the_document_is_found_between_the_markers_without_kernel_lines() {
        let report = extract(CONSOLE).unwrap();
        assert_eq!(report.kernel, "7.3.4");
        assert_eq!(report.devices[1].label, "remap_pfn_range");
        assert_eq!(report.comparisons.len(), 3);
        assert_eq!(report.comparisons[0].devices.len(), 2);
        assert_eq!(report.comparisons[1].met, Some(false));
        assert_eq!(report.comparisons[1].vs_best_peer, Some(5.0));
        assert_eq!(report.comparisons[2].side("mymap").unwrap().ratio, None);
        assert_eq!(report.module_load[0].devices[1].node_s, Some(0.02));
    }

    #[test]
    fn missing_markers_and_other_schemas_are_errors() {
        assert!(extract("MYMAP-JOB: END rc=1\n").is_err());
        let cut = CONSOLE.replace("MYMAP-BENCH-JSON: END", "");
        assert!(extract(&cut)
            .unwrap_err()
            .to_string()
            .contains("no MYMAP-BENCH-JSON: END"));
        let older = CONSOLE.replace("\"schema\": 5", "\"schema\": 2");
        assert!(extract(&older)
            .unwrap_err()
            .to_string()
            .contains("schema 2"));
        let with_ring = CONSOLE.replace(
            "\"ring\": null",
            &format!("\"ring\": {}", testdata::RING_JSON),
        );
        let report = extract(&with_ring).unwrap();
        assert_eq!(report.ring.unwrap().ratios.len(), 3);
        let with_gpio = CONSOLE.replace(
            "\"ring\": null",
            &format!("\"ring\": null,\n  \"gpio\": {}", testdata::GPIO_JSON),
        );
        assert_eq!(extract(&with_gpio).unwrap().gpio, Some(testdata::gpio()));
    }

    #[test]
    fn boot_to_device_is_the_first_load_line_even_after_init_text() {
        assert_eq!(device_registered_at(CONSOLE), Some(16.668064));
        let same_line = "Starting mymap: [    9.5] mymap: 2 device(s) of 4096 bytes: /dev/mymap\n";
        assert_eq!(device_registered_at(same_line), Some(9.5));
        assert_eq!(device_registered_at("[ 1.0] mymap: size=0 refused\n"), None);
        assert_eq!(bench_started_at(CONSOLE), Some(17.0001));
        assert_eq!(bench_started_at("mymap-bench: started\n"), None);
    }
}
