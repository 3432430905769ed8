// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the producer API that exports.rs defines, for other modules.
 * A Rust module cannot emit EXPORT_SYMBOL_GPL itself; the prototypes come
 * from the header those modules include, so the compiler checks the
 * declarations the Rust definitions must match.
 */
#include <linux/export.h>
#include <linux/mymap_ring.h>

EXPORT_SYMBOL_GPL(mymap_ring_get);
EXPORT_SYMBOL_GPL(mymap_ring_put);
EXPORT_SYMBOL_GPL(mymap_ring_max_payload);
EXPORT_SYMBOL_GPL(mymap_ring_reserve);
EXPORT_SYMBOL_GPL(mymap_ring_reserve_at);
EXPORT_SYMBOL_GPL(mymap_ring_commit);
EXPORT_SYMBOL_GPL(mymap_ring_discard);
EXPORT_SYMBOL_GPL(mymap_ring_output);
EXPORT_SYMBOL_GPL(mymap_tx_attach);
EXPORT_SYMBOL_GPL(mymap_tx_detach);
EXPORT_SYMBOL_GPL(mymap_tx_drain);
