// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * The BPF ring buffer peer of mymap-bench: XDP programs that make records
 * in a BPF_MAP_TYPE_RINGBUF with bpf_ringbuf_reserve/bpf_ringbuf_submit, run
 * by BPF_PROG_TEST_RUN (userspace/mymap-bench/src/bpf.rs). The idea is the
 * kernel's own benchmark (tools/testing/selftests/bpf/progs/ringbuf_bench.c):
 * a loop of a batch of records per run, so that one system call makes many.
 *
 * Built by build.rs with clang-19 -target bpfel -O2 and no headers: no libbpf
 * headers are installed, and the boards' kernels have no BTF, so the maps are
 * legacy ones (section "maps"), the helpers are declared here by their ids
 * (enum bpf_func_id in include/uapi/linux/bpf.h), and the object carries no
 * BTF at all (no -g).
 *
 * A record's sample is struct sample and then len payload bytes, the payload
 * of mymap's built-in producers (mymap.h): byte i is byte i of the sequence
 * number in little-endian order for i < 8, its low byte after that. A sample
 * with no payload is the end marker.
 */

typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))

/* include/uapi/linux/bpf.h: enum bpf_map_type, enum bpf_func_id, the
 * BPF_RB_* flags of bpf_ringbuf_submit, enum xdp_action. */
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_RB_NO_WAKEUP 1ULL
#define BPF_RB_FORCE_WAKEUP 2ULL
#define XDP_ABORTED 0
#define XDP_DROP 1
#define XDP_PASS 2

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *)132;

/* struct xdp_md of the UAPI header, the fields used. */
struct xdp_md {
	u32 data;
	u32 data_end;
};

/* The legacy map definition, as aya reads section "maps". */
struct bpf_map_def {
	u32 type;
	u32 key_size;
	u32 value_size;
	u32 max_entries;
	u32 map_flags;
};

/* The ring. Its size is set at load (aya's EbpfLoader::set_max_entries). */
struct bpf_map_def SEC("maps") RING = {
	.type = BPF_MAP_TYPE_RINGBUF,
	.max_entries = 256 * 1024,
};

/* The producer's state, one array entry of STATE_WORDS u64s read by
 * userspace between runs: the next sequence number, and the records that
 * found the ring full. Only one test run at a time writes it. */
#define STATE_SEQ 0
#define STATE_DROPPED 1
#define STATE_WORDS 2
struct bpf_map_def SEC("maps") STATE = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(u32),
	.value_size = STATE_WORDS * sizeof(u64),
	.max_entries = 1,
};

/* The test run's packet: what one run makes. */
struct request {
	u32 count;	/* records, at most BATCH_MAX */
	u32 mode;	/* MODE_* */
};

/* Wakeups: BPF's default (wake when the consumer had caught up), or sampled:
 * BPF_RB_NO_WAKEUP, and BPF_RB_FORCE_WAKEUP every SAMPLE records. */
#define MODE_ADAPTIVE 0
#define MODE_SAMPLED 1
#define SAMPLE 500

/* The verifier walks each iteration of a loop: a constant bound keeps that
 * walk short, and the request's count ends the loop earlier. */
#define BATCH_MAX 512

struct sample {
	u64 seq;
	u64 timestamp_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

char _license[] SEC("license") = "Dual MIT/GPL";

INLINE u64 submit_flags(u32 mode, u64 seq)
{
	if (mode != MODE_SAMPLED)
		return 0;
	return seq % SAMPLE == SAMPLE - 1 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Makes the request's records of len payload bytes (a multiple of 8). */
INLINE int produce(struct xdp_md *ctx, const u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct request *req = data;
	u32 key = 0;
	u64 *state;
	u64 seq, dropped = 0;
	u32 count, mode, i;

	if ((void *)(req + 1) > end)
		return XDP_ABORTED;
	state = bpf_map_lookup_elem(&STATE, &key);
	if (!state)
		return XDP_ABORTED;
	count = req->count;
	mode = req->mode;
	seq = state[STATE_SEQ];
	for (i = 0; i < BATCH_MAX; i++) {
		struct sample *s;
		u64 *payload, fill;
		u32 w;

		if (i >= count)
			break;
		s = bpf_ringbuf_reserve(&RING, sizeof(*s) + len, 0);
		if (!s) {
			dropped++;
			seq++;
			continue;
		}
		s->seq = seq;
		s->timestamp_ns = bpf_ktime_get_ns();
		payload = (u64 *)(s + 1);
		payload[0] = seq;
		fill = (seq & 0xff) * 0x0101010101010101ULL;
#pragma unroll
		for (w = 1; w < len / 8; w++)
			payload[w] = fill;
		bpf_ringbuf_submit(s, submit_flags(mode, seq));
		seq++;
	}
	state[STATE_SEQ] = seq;
	state[STATE_DROPPED] += dropped;
	return XDP_PASS;
}

SEC("xdp")
int records_8(struct xdp_md *ctx)
{
	return produce(ctx, 8);
}

SEC("xdp")
int records_64(struct xdp_md *ctx)
{
	return produce(ctx, 64);
}

SEC("xdp")
int records_4k(struct xdp_md *ctx)
{
	return produce(ctx, 4096);
}

/* The end marker: a sample without payload, which wakes as the request's
 * mode ends a stream: BPF's default, or forced (sampled). XDP_DROP when the
 * ring is full, for the caller to try again. */
SEC("xdp")
int marker(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct request *req = data;
	u32 key = 0;
	u64 *state;
	struct sample *s;

	if ((void *)(req + 1) > end)
		return XDP_ABORTED;
	state = bpf_map_lookup_elem(&STATE, &key);
	if (!state)
		return XDP_ABORTED;
	s = bpf_ringbuf_reserve(&RING, sizeof(*s), 0);
	if (!s)
		return XDP_DROP;
	s->seq = state[STATE_SEQ]++;
	s->timestamp_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(s, req->mode == MODE_SAMPLED ? BPF_RB_FORCE_WAKEUP : 0);
	return XDP_PASS;
}
