// SPDX-License-Identifier: GPL-2.0

//! The GPIO producer configured by a device tree, as boards are.
//!
//! A platform driver for nodes compatible with `mymap,gpio-ring`:
//!
//! ```text
//! mymap-gpio {
//!     compatible = "mymap,gpio-ring";
//!     mymap-gpios = <&gpio 17 GPIO_ACTIVE_HIGH>;  /* the line */
//!     mymap,ring = <0>;                           /* optional, default 0 */
//!     mymap,edges = "both";                       /* optional: rising, falling, both */
//! };
//! ```
//!
//! Each bound node is a [`GpioProducer`] into the ring it names; unbinding (or
//! unloading the module, which unregisters the driver first) frees its
//! interrupt and line. The Raspberry Pi overlay `boards/raspberrypi/mymap-gpio.dts`
//! adds such a node for a header pin.

use kernel::{device::Core, of, platform, prelude::*, str::CString};

use crate::{
    exports,
    gpio::{
        Edges,
        GpioProducer,
        Line, //
    },
};

/// A bound `mymap,gpio-ring` node: its producer.
#[pin_data]
pub(crate) struct GpioRingDriver {
    producer: Pin<KBox<GpioProducer>>,
}

kernel::of_device_table!(
    OF_TABLE,
    <GpioRingDriver as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"mymap,gpio-ring"), ())]
);

impl platform::Driver for GpioRingDriver {
    type IdInfo = ();
    type Data<'bound> = Self;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self, Error> + 'bound {
        let dev = pdev.as_ref();
        let fwnode = dev.fwnode().ok_or(ENODEV)?;
        let index = fwnode.property_read::<u32>(c"mymap,ring").or(0);
        let edges = match fwnode.property_read::<CString>(c"mymap,edges").optional() {
            None => Edges::Both,
            Some(name) => Edges::parse(name.to_bytes()).ok_or_else(|| {
                dev_err!(dev, "mymap,edges must be rising, falling or both\n");
                EINVAL
            })?,
        };
        let Some(ring) = exports::ring(index) else {
            dev_err!(
                dev,
                "mymap,ring = {}: the module has no such ring (see rings=)\n",
                index
            );
            return Err(ENODEV);
        };
        let raw: *const kernel::device::Device<Core<'_>> = dev;
        // SAFETY: `Device` is a transparent wrapper of `struct device`, so the pointer is the
        // bound device's, live for the whole probe.
        let producer =
            unsafe { GpioProducer::new(ring, raw.cast_mut().cast(), Line::DeviceTree, edges) }?;
        Ok(Self { producer })
    }
}
