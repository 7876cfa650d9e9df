// Flash attention forward for Hopper (sm_90a): wgmma tensor-core instructions fed from 128-byte-swizzled shared
// memory, a warp-specialized TMA (or cp.async) producer and mbarrier-synchronized K/V ring; bf16/f16 q, k, v, head
// dims 64 and 128, output f32 or the input type, lse f32. The mma.sync kernel (vf_flash.cu) stays the portable
// path: this launcher returns -1 for anything it does not handle and the caller falls back.
//
// One block per (BQ-query tile, head, instance) with NWG + 1 warpgroups. Warpgroup 0 is the producer: it drops to
// 24 registers (setmaxnreg) and loads the block's Q tile once and then K and V tiles of BK keys into an ST-stage
// ring, completing the stage's "full" mbarrier when they have landed. With the Tensor Memory Accelerator
// (VF_S90_TMA; the host builds 2D tensor maps of q, k and v: rows of H D elements, the whole tensor's rows, 128-byte
// swizzle) one thread issues a box of 64 columns x R rows per 64-column half, after mbarrier.arrive.expect_tx (the
// barrier's one counted arrival, plus the tile's bytes, which the copies pay off). The TMA zero-fills only past the
// tensor, not past an instance inside a packed varlen tensor, so a K/V tile goes by TMA only when it lies wholly
// inside its instance or the instance is the one the maps end with (batch 1: every tile); otherwise the instance's
// last tile, when BK does not divide its keys, is cp.async'd with zero fill by warps 1-3, which wait for their
// copies and gather on a named barrier before one of them makes the counted arrival, so both kinds of tile complete
// the same one-arrival barrier (details at the producer). Q goes by TMA whole: query rows past the instance only
// make rows that are never written. Without maps (VF_S90_TMA=0, device
// offsets, a stride or base the TMA cannot take) every producer thread cp.async's its share of each tile and
// arrives when its copies land (cp.async.mbarrier.arrive.noinc, 128 arrivals a phase), rows past the instance's end
// zero-filled. Warpgroups 1..NWG are consumers of 64 query rows each (raised to more registers). Per key tile a
// consumer computes S = Q K^T with wgmma m64nBKk16 (Q and K K-major in shared memory), keeps the online softmax in
// registers (exp2 of pre-scaled scores, row max and sum over the 4 lanes of a quad), rounds the probabilities to
// the input type and feeds them from registers as the A operand of O += P V (wgmma m64nDk16, V MN-major in shared
// memory), then arrives on the stage's "empty" mbarrier so the producer can refill it. The QK^T of tile j is
// issued together with the PV of tile j - 1, so the softmax of tile j runs while the tensor cores finish PV
// (FlashAttention-3's intra-warpgroup overlap); with PP the consumer warpgroups also take turns issuing their
// products (named barriers), so one warpgroup's softmax overlaps another's matrix products.
//
// Shared tiles: rows of 64 elements (128 bytes; D = 128 keeps two such 64-column halves one after the other), the
// 16-byte chunk c of row r stored at chunk c ^ (r % 8), tile bases 1024-byte aligned: the hardware's 128-byte
// swizzle. Descriptors: start address >> 4 (bits 0-13), leading byte offset >> 4 (16-29), stride byte offset >> 4
// (32-45: 1024 bytes between 8-row groups), swizzle mode 1 = 128 bytes (62-63). K-major operands advance 32 bytes
// per 16-element k step inside the 128-byte row (and jump to the next half for D = 128); V (MN-major, transposed B)
// advances 2048 bytes (16 key rows) per k step, its leading byte offset the distance between the two 64-column
// halves for D = 128.
//
// Tail split: one CTA per SM, so a grid of U units (query tile, head, instance) runs in ceil(U / SMs) waves, and
// a last wave that is only partly full leaves SMs idle (1x4096 x 16 heads: 352 units on 132 SMs, 2.67 waves in the
// time of 3). The host keeps the first U - T units whole and cuts each of the last T = U mod SMs into P key ranges
// (P chosen so that the T P parts pack into the fewest waves, see choose_split). A part writes its unnormalized
// O, row max and row sums to the caller's workspace; the last part of a unit to finish (an atomic counter per unit,
// which it resets) folds the others' into its own registers, rescaling each by 2^(m_part - m), and writes the
// output as an unsplit CTA would.
//
// Accuracy: as vf_flash.cu, the only rounding beyond f32 arithmetic is P to the input type before P V; the row sums
// use the unrounded f32 probabilities. An instance without keys gets zero output and lse -inf.
#include <cuda.h>          // CUtensorMap and its enums (types only: the encoder comes through the runtime)
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include "vf_flash_sm90.cuh"
#include "vf_attn_common.cuh"

namespace {

using namespace vfa;

// Tile choices (the VF_S90_* macros exist for tuning builds of bench/flash_sm90_bench.cu; run_sm90.sh VARIANTS=...).
// Measured in one device call (H200, bf16, H 16; TFLOP/s): D 64 self 2 x 4096: NWG 3 / BK 128 / ST 3 / PP 420.7,
// ST 2 367.9, BK 64 354.3, without PP 361.6 (NWG 2: 387 in an earlier call); D 128 self: NWG 2 / BK 64 / ST 4 493.8,
// ST 3 489.3, NWG 3 / BK 64 / ST 3 514.8 (passed only the small check there, so not yet the default; NWG 2 / BK 128 /
// ST 2: 393 in the earlier call).
#ifndef VF_S90_64_NWG
#define VF_S90_64_NWG 3
#endif
#ifndef VF_S90_64_BK
#define VF_S90_64_BK 128
#endif
#ifndef VF_S90_64_ST
#define VF_S90_64_ST 3
#endif
#ifndef VF_S90_128_NWG
#define VF_S90_128_NWG 2
#endif
#ifndef VF_S90_128_BK
#define VF_S90_128_BK 64
#endif
#ifndef VF_S90_128_ST
#define VF_S90_128_ST 4
#endif
#ifndef VF_S90_PP
#define VF_S90_PP 1
#endif
// 1: the producer loads Q and the K/V tiles that lie inside their instance with the Tensor Memory Accelerator (see
// the header); 0: every tile by cp.async (the previous producer, exactly). VF_S90_TMA_L2: the maps' L2 promotion
// (bytes a miss fetches from DRAM: 128 or 256). VF_S90_TMA_VERBOSE=1: the launcher says on stderr, once each, whether
// launches got the TMA or the cp.async producer.
#ifndef VF_S90_TMA
#define VF_S90_TMA 1
#endif
#ifndef VF_S90_TMA_L2
#define VF_S90_TMA_L2 256
#endif
#ifndef VF_S90_TMA_VERBOSE
#define VF_S90_TMA_VERBOSE 0
#endif

template <int NWG_, int BK_, int ST_> struct S90Shape {
    static constexpr int NWG = NWG_, BK = BK_, ST = ST_;
};
template <int D> struct S90Cfg;
template <> struct S90Cfg<64> : S90Shape<VF_S90_64_NWG, VF_S90_64_BK, VF_S90_64_ST> {};
template <> struct S90Cfg<128> : S90Shape<VF_S90_128_NWG, VF_S90_128_BK, VF_S90_128_ST> {};

// Consumer registers after setmaxnreg. The producer drops to 24; the consumers may take what it frees, within the
// block's allocation at launch (launch bounds: 168 a thread for 384 threads, 128 for 512):
// 128 * 24 + NWG * 128 * R <= (NWG + 1) * 128 * entry registers.
template <int NWG> struct ConsumerRegs { static constexpr int value = NWG == 2 ? 240 : 160; };
// Workspace of one split part: the consumer threads' O registers, then m[2], l[2], as [warpgroup][value][thread].
template <int D> __host__ __device__ constexpr int split_vals() { return D / 2 + 4; }
template <int D> constexpr size_t split_slot_bytes() { return (size_t)S90Cfg<D>::NWG * 128 * split_vals<D>() * 4; }

// How the grid maps onto units (see the header): CTAs [0, full) take unit c whole; CTA full + i takes part i % parts
// of unit full + i / parts. Units: x + gx (h + heads b).
struct S90Split {
    int gx, full, parts;
    float* ws;      // split_slot_bytes per part
    int* counters;  // one per split unit, zero between launches
};

// TMA descriptors of q, k and v (built per launch on the host: encode_map). The kernel reads them in place as a
// __grid_constant__ parameter: cp.async.bulk.tensor takes the generic address of a map in the parameter space (or
// global or constant memory), 64-byte aligned, which CUtensorMap's declared alignment (128) gives the parameter.
struct S90Maps {
    CUtensorMap q, k, v;
    long long kRows;  // the k and v maps' rows: the TMA zero-fills from there on
};

template <int D> constexpr size_t s90_smem() {
    using C = S90Cfg<D>;
    return 1024 + (size_t)2 * D * (64 * C::NWG + 2 * C::ST * C::BK);
}

// (device helpers: the non-sm_90a passes compile the kernel's body away, and not every tile width is used)
#pragma nv_diag_suppress 177

// ---- PTX wrappers (sm_90a) ---------------------------------------------------------------------------------------

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Blocks until the phase of the given parity has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "WAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT;\n}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}
// Arrives on the barrier once every cp.async this thread issued so far has landed (counts as one expected arrival).
__device__ __forceinline__ void cp_async_arrive(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// Arrives on the barrier (the one counted arrival of its phase) and adds `bytes` to the phase's transaction count,
// which the TMA copies naming the barrier then pay off (complete_tx): the phase completes once both are done.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// TMA: the box at (c0 = column, c1 = row) of the 2D map into shared memory at dst (1024-byte aligned: the 128-byte
// swizzle is a function of the address bits, so the box's row r lands with its chunk c at ((c ^ r % 8) * 16), as
// load_rows writes it); completes the box's bytes on bar. Elements outside the map's bounds arrive as zeros.
// (.shared::cluster with a shared::cta address: a CTA launched without a cluster is its own cluster of one.)
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int c0, int c1, uint32_t bar) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                 ::"r"(dst), "l"(map), "r"(c0), "r"(c1), "r"(bar)
                 : "memory");
}
__device__ __forceinline__ void tma_prefetch(const CUtensorMap* map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(map) : "memory");
}
// Waits until every cp.async this thread issued has landed (committed or not: wait_all commits first).
__device__ __forceinline__ void cp_async_drain() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
// Named barriers among producer threads (n of them; the consumers use ids 1..NWG and NWG + 1).
__device__ __forceinline__ void producer_sync(int id, int n) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void producer_arrive(int id, int n) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void cp_async16_s(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
// Orders this thread's generic-proxy view of shared memory (the cp.async data it has observed) before its later
// async-proxy (wgmma) reads.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void named_sync(int id) { asm volatile("bar.sync %0, 256;\n" ::"r"(id) : "memory"); }
__device__ __forceinline__ void named_arrive(int id) { asm volatile("bar.arrive %0, 256;\n" ::"r"(id) : "memory"); }
template <int R> __device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R)); }
template <int R> __device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R)); }

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Pins registers that an asynchronous wgmma reads or writes: the compiler may not move their other uses across.
template <int N> __device__ __forceinline__ void keep(float (&x)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(x[i])::"memory");
}
template <int N> __device__ __forceinline__ void keep(unsigned (&x)[N][4]) {
#pragma unroll
    for (int i = 0; i < N; i++)
#pragma unroll
        for (int e = 0; e < 4; e++) asm volatile("" : "+r"(x[i][e])::"memory");
}

// Shared-memory matrix descriptor, 128-byte swizzle.
__device__ __forceinline__ uint64_t sdesc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)((addr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32) | (1ull << 62);
}

// D (64 x N, f32, registers) (+)= A (64 x 16) B (16 x N). ss: A and B K-major in shared memory; rs: A from registers
// (the mma.sync m16n8k16 A fragment of each warp's 16 rows), B MN-major (transposed) in shared memory. acc == 0
// overwrites D.
template <typename T, int N> __device__ __forceinline__ void wgmma_ss(float (&d)[N / 2], uint64_t a, uint64_t b, int acc);
template <typename T, int N> __device__ __forceinline__ void wgmma_rs(float (&d)[N / 2], const unsigned (&a)[4], uint64_t b, int acc);
#define VF_D8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
// One definition per shape, instantiated for bf16 and f16 below (the PTX type name is the only difference).
#define VF_WGMMA_SS64(T, PTX) \
template <> __device__ __forceinline__ void wgmma_ss<T, 64>(float (&d)[32], uint64_t a, uint64_t b, int acc) {                                                                                           \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                                                                                                                            \
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX "." PTX " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31},"   \
                 " %32, %33, p, 1, 1, 0, 0;\n}\n"                                                                                                                                                        \
                 : VF_D8(0), VF_D8(8), VF_D8(16), VF_D8(24)                                                                                                                                              \
                 : "l"(a), "l"(b), "r"(acc));                                                                                                                                                            \
}                                                                                                                                                                                                       
#define VF_WGMMA_SS128(T, PTX) \
template <> __device__ __forceinline__ void wgmma_ss<T, 128>(float (&d)[64], uint64_t a, uint64_t b, int acc) {                                                                                                                                                                                                                           \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                                                                                                                                                                                                                                                             \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX "." PTX " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63},"   \
                 " %64, %65, p, 1, 1, 0, 0;\n}\n"                                                                                                                                                                                                                                                                                         \
                 : VF_D8(0), VF_D8(8), VF_D8(16), VF_D8(24), VF_D8(32), VF_D8(40), VF_D8(48), VF_D8(56)                                                                                                                                                                                                                                   \
                 : "l"(a), "l"(b), "r"(acc));                                                                                                                                                                                                                                                                                             \
}                                                                                                                                                                                                                                                                                                                                        
#define VF_WGMMA_SS192(T, PTX) \
template <> __device__ __forceinline__ void wgmma_ss<T, 192>(float (&d)[96], uint64_t a, uint64_t b, int acc) {                                                                                                                                                                                                                                                                                                                                                           \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\n"                                                                                                                                                                                                                                                                                                                                                                                                             \
                 "wgmma.mma_async.sync.aligned.m64n192k16.f32." PTX "." PTX " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95},"   \
                 " %96, %97, p, 1, 1, 0, 0;\n}\n"                                                                                                                                                                                                                                                                                                                                                                                                                         \
                 : VF_D8(0), VF_D8(8), VF_D8(16), VF_D8(24), VF_D8(32), VF_D8(40), VF_D8(48), VF_D8(56), VF_D8(64), VF_D8(72), VF_D8(80), VF_D8(88)                                                                                                                                                                                                                                                                                                                       \
                 : "l"(a), "l"(b), "r"(acc));                                                                                                                                                                                                                                                                                                                                                                                                                             \
}                                                                                                                                                                                                                                                                                                                                                                                                                                                                        
#define VF_WGMMA_RS64(T, PTX) \
template <> __device__ __forceinline__ void wgmma_rs<T, 64>(float (&d)[32], const unsigned (&a)[4], uint64_t b, int acc) {                                                                               \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                                                                                                            \
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32." PTX "." PTX " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31},"   \
                 " {%32,%33,%34,%35}, %36, p, 1, 1, 1;\n}\n"                                                                                                                                             \
                 : VF_D8(0), VF_D8(8), VF_D8(16), VF_D8(24)                                                                                                                                              \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(acc));                                                                                                                        \
}                                                                                                                                                                                                       
#define VF_WGMMA_RS128(T, PTX) \
template <> __device__ __forceinline__ void wgmma_rs<T, 128>(float (&d)[64], const unsigned (&a)[4], uint64_t b, int acc) {                                                                                                                                                                                                               \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                                                                                                                                                                                                                                                             \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX "." PTX " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63},"   \
                 " {%64,%65,%66,%67}, %68, p, 1, 1, 1;\n}\n"                                                                                                                                                                                                                                                                              \
                 : VF_D8(0), VF_D8(8), VF_D8(16), VF_D8(24), VF_D8(32), VF_D8(40), VF_D8(48), VF_D8(56)                                                                                                                                                                                                                                   \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(acc));                                                                                                                                                                                                                                                         \
}                                                                                                                                                                                                                                                                                                                                        
#define VF_WGMMA_TYPE(T, PTX) VF_WGMMA_SS64(T, PTX) VF_WGMMA_SS128(T, PTX) VF_WGMMA_SS192(T, PTX) VF_WGMMA_RS64(T, PTX) VF_WGMMA_RS128(T, PTX)
VF_WGMMA_TYPE(__nv_bfloat16, "bf16")
VF_WGMMA_TYPE(__half, "f16")
#undef VF_WGMMA_TYPE
#undef VF_WGMMA_SS64
#undef VF_WGMMA_SS128
#undef VF_WGMMA_SS192
#undef VF_WGMMA_RS64
#undef VF_WGMMA_RS128
#undef VF_D8

// cp.async of rows [start, start + R) (n valid; the rest zero-filled) of one head into a swizzled tile: 64-column
// halves of R rows x 128 bytes, chunk c of row r at ((c % 8) ^ (r % 8)) * 16. src is row 0 of the instance for this
// head, rows `stride` elements apart; 128 threads.
template <int R, int D, typename T>
__device__ __forceinline__ void load_rows(uint32_t tile, const T* src, long long stride, int start, int n, int tid) {
    constexpr int CH = D / 8, RSTEP = 128 / CH;  // each thread keeps one chunk column; RSTEP rows per pass
    static_assert(R % RSTEP == 0 && RSTEP % 8 == 0, "tile split");
    const int c = tid % CH, r0 = tid / CH;
    int row = start + r0;
    const T* g = src + (long long)row * stride + c * 8;
    const long long gstep = (long long)RSTEP * stride;
    uint32_t dst = tile + (c >> 3) * (R * 128) + r0 * 128 + (((c & 7) ^ (r0 & 7)) << 4);  // (r0 + RSTEP i) % 8 == r0 % 8
#pragma unroll 2
    for (int i = 0; i < R / RSTEP; i++) {
        const bool ok = row < n;
        cp_async16_s(dst, ok ? g : src, ok);
        row += RSTEP;
        g += gstep;
        dst += RSTEP * 128;
    }
}

// load_rows's tile by NT threads (t < NT; any NT that whole rows of chunks divide): the boundary tile of the TMA
// producer (NT = 96). Rows from n on are zero-filled (their source address is row n - 1's, valid, and not read).
// Written for the producer's 24 registers: no unrolling, one 64-bit address live.
template <int R, int D, int NT, typename T>
__device__ __forceinline__ void load_rows_n(uint32_t tile, const T* src, long long stride, int n, int t) {
    constexpr int CH = D / 8, RSTEP = NT / CH;
    static_assert(NT % CH == 0, "tile split");
    const int c = t % CH;
    const uint32_t col = tile + (c >> 3) * (R * 128);
    src += c * 8;
#pragma unroll 1
    for (int r = t / CH; r < R; r += RSTEP)
        cp_async16_s(col + r * 128 + (((c & 7) ^ (r & 7)) << 4), src + (long long)min(r, n - 1) * stride, r < n);
}

// How far (log2 units) a tile's row max may exceed the running max before the running max moves. Most tiles then
// leave it, alpha is 1 and the consumer skips rescaling O (a warp skips it when none of its rows moved), where every
// new high used to cost a pass over O: the consumers are issue-bound, so the pass was not free. Probabilities reach
// at most 2^kMaxSlack = 256 instead of 1: exact in f32 sums, no overflow in bf16/f16 P, the same relative rounding.
constexpr float kMaxSlack = 8.f;

// Online softmax of one score tile in the wgmma accumulator layout: s[4 i + e] is row g + 8 (e / 2), column
// 8 i + 2 t + (e % 2) of the warp's 16 rows (g = lane / 4, t = lane % 4). Probabilities replace the scores.
template <int BK>
__device__ __forceinline__ void softmax_tile(float (&s)[BK / 2], float (&m)[2], float (&l)[2], float (&alpha)[2], float scale2) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float mx[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
#pragma unroll
        for (int i = 0; i < BK / 8; i++) mx[i & 3] = fmaxf(mx[i & 3], fmaxf(s[4 * i + 2 * r], s[4 * i + 2 * r + 1]));
        float mt = fmaxf(fmaxf(mx[0], mx[1]), fmaxf(mx[2], mx[3]));
        mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
        mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 2));
        const float mt2 = mt * scale2;  // finite: the tile's first key is valid
        const bool grow = mt2 > m[r] + kMaxSlack;  // always on the first tile (m = -inf)
        const float mnew = grow ? mt2 : m[r];
        alpha[r] = grow ? ex2(m[r] - mnew) : 1.f;
        m[r] = mnew;
        float sum[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int i = 0; i < BK / 8; i++)
#pragma unroll
            for (int e = 2 * r; e < 2 * r + 2; e++) {
                const float p = ex2(fmaf(s[4 * i + e], scale2, -mnew));
                s[4 * i + e] = p;
                sum[i & 3] += p;
            }
        l[r] = l[r] * alpha[r] + ((sum[0] + sum[1]) + (sum[2] + sum[3]));  // per-lane partial; the quad adds up at the end
    }
}

template <int BK>
__device__ __forceinline__ void mask_tile(float (&s)[BK / 2], int col0, int nk) {
#pragma unroll
    for (int i = 0; i < BK / 8; i++)
#pragma unroll
        for (int e = 0; e < 4; e++)
            if (col0 + 8 * i + (e & 1) >= nk) s[4 * i + e] = -INFINITY;
}

// P (rounded to T) as the A fragments of the k steps of 16 keys: the accumulator chunks 2 kk and 2 kk + 1.
template <typename T, int BK>
__device__ __forceinline__ void pack_p(unsigned (&p)[BK / 16][4], const float (&s)[BK / 2]) {
#pragma unroll
    for (int kk = 0; kk < BK / 16; kk++)
#pragma unroll
        for (int e = 0; e < 4; e++) p[kk][e] = pack2<T>(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
}

template <typename OutT> __device__ __forceinline__ void store2(OutT* p, float a, float b);
template <> __device__ __forceinline__ void store2<float>(float* p, float a, float b) {
    *reinterpret_cast<float2*>(p) = make_float2(a, b);
}
template <> __device__ __forceinline__ void store2<__nv_bfloat16>(__nv_bfloat16* p, float a, float b) {
    *reinterpret_cast<unsigned*>(p) = pack2<__nv_bfloat16>(a, b);
}
template <> __device__ __forceinline__ void store2<__half>(__half* p, float a, float b) {
    *reinterpret_cast<unsigned*>(p) = pack2<__half>(a, b);
}

// A split part's end (consumer threads of the nact active warpgroups): stores its O, m, l in its workspace slot;
// the unit's last part to get here then folds all the unit's slots into o, m, l, in part order whichever part came
// last (so the result's bits do not depend on timing), and returns true: it writes the output. m is the reference
// max of the pre-scaled (log2) scores (at most kMaxSlack below their max), -inf for a part without keys; l the lane's
// partial row sums.
template <int D, int NWG>
__device__ __forceinline__ bool split_combine(float (&o)[D / 2], float (&m)[2], float (&l)[2], const S90Split& sp,
                                              int slot, int part, int nact, int w, int tid, int& last_part) {
    constexpr int NV = split_vals<D>();
    constexpr size_t SLOT = (size_t)NWG * 128 * NV;
    float* mine = sp.ws + slot * SLOT + (size_t)w * NV * 128 + tid;
#pragma unroll
    for (int i = 0; i < D / 2; i++) __stcg(mine + i * 128, o[i]);
#pragma unroll
    for (int r = 0; r < 2; r++) {
        __stcg(mine + (D / 2 + r) * 128, m[r]);
        __stcg(mine + (D / 2 + 2 + r) * 128, l[r]);
    }
    __threadfence();  // this thread's slot before the counter (the last part reads it after its own fence)
    asm volatile("bar.sync %0, %1;\n" ::"r"(NWG + 1), "r"(128 * nact) : "memory");
    const int u = slot / sp.parts;
    if (w == 0 && tid == 0) {
        last_part = atomicAdd(&sp.counters[u], 1) == sp.parts - 1;
        if (last_part) sp.counters[u] = 0;  // every part has arrived: ready for the next launch
    }
    asm volatile("bar.sync %0, %1;\n" ::"r"(NWG + 1), "r"(128 * nact) : "memory");
    if (!last_part) return false;
    __threadfence();
#pragma unroll
    for (int r = 0; r < 2; r++) m[r] = -INFINITY, l[r] = 0.f;
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.f;
    for (int q = 0; q < sp.parts; q++) {
        const float* src = sp.ws + (slot - part + q) * SLOT + (size_t)w * NV * 128 + tid;
        float a[2], bq[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const float mq = __ldcg(src + (D / 2 + r) * 128), lq = __ldcg(src + (D / 2 + 2 + r) * 128);
            const float mx = fmaxf(m[r], mq);
            a[r] = mx == -INFINITY ? 1.f : ex2(m[r] - mx);  // neither part has keys: both stay zero
            bq[r] = mx == -INFINITY ? 0.f : ex2(mq - mx);
            l[r] = l[r] * a[r] + lq * bq[r];
            m[r] = mx;
        }
#pragma unroll
        for (int i = 0; i < D / 2; i++) o[i] = o[i] * a[(i >> 1) & 1] + __ldcg(src + i * 128) * bq[(i >> 1) & 1];
    }
    return true;
}

#pragma nv_diag_default 177

template <typename T, typename OutT, int D>
__global__ void __launch_bounds__(128 * (S90Cfg<D>::NWG + 1), 1)
    flash_fwd_sm90(const T* __restrict__ q, long long qs, const T* __restrict__ k, long long ks, const T* __restrict__ v,
                   long long vs, OutT* __restrict__ out, long long os, float* __restrict__ lse,
                   const __grid_constant__ VfAttnOffsets off, const S90Split sp, int H, float scale2
#if VF_S90_TMA
                   , const __grid_constant__ S90Maps maps, int tma  // tma: maps hold q, k, v (else cp.async only)
#endif
                   ) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    vf_pdl_wait();  // launched with vf_launch
    vf_pdl_trigger();
    using C = S90Cfg<D>;
    constexpr int NWG = C::NWG, BK = C::BK, ST = C::ST, BQ = 64 * NWG;
    constexpr uint32_t QBYTES = BQ * D * 2, KBYTES = BK * D * 2, STAGE = 2 * KBYTES;
    static_assert(BK % 16 == 0 && BK <= 256 && (D == 64 || D == 128) && NWG >= 2 && NWG <= 3, "shape");
    // full[ST], empty[ST], Q (static shared memory: also what tells the host this image is the sm_90a one)
    __shared__ __align__(8) uint64_t bars[2 * ST + 1];
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    const uint32_t sQ = (smem_u32(smem_raw) + 1023u) & ~1023u, sKV = sQ + QBYTES;
    const uint32_t full0 = smem_u32(&bars[0]), empty0 = smem_u32(&bars[ST]), qbar = smem_u32(&bars[2 * ST]);

    __shared__ int last_part;
    const int cta = blockIdx.x;
    const int slot = cta - sp.full;  // >= 0: a part of a split unit
    const int unit = slot < 0 ? cta : sp.full + slot / sp.parts, part = slot < 0 ? 0 : slot % sp.parts;
    const int x = unit % sp.gx, h = (unit / sp.gx) % H, b = unit / sp.gx / H;
    const int q0 = off.q(b), nq = off.q(b + 1) - q0, k0 = off.k(b), nk = off.k(b + 1) - k0;
    const int tile0 = x * BQ;
    if (tile0 >= nq) return;
    const int nact = min(NWG, (nq - tile0 + 63) / 64);  // consumer warpgroups with query rows
    // this CTA's key tiles: [jb, jb + nt) of the instance's ntAll
    const int ntAll = (nk + BK - 1) / BK, P = slot < 0 ? 1 : sp.parts;
    const int jb = part * ntAll / P, nt = (part + 1) * ntAll / P - jb;
    const int wg = threadIdx.x >> 7, tid = threadIdx.x & 127;
    if (threadIdx.x == 0) {
#if VF_S90_TMA
        // arrivals a full (and the Q) barrier counts per phase: one (the elected producer thread's) with TMA, one per
        // producer thread without
        const int producers = tma ? 1 : 128;
#else
        constexpr int producers = 128;
#endif
        for (int s = 0; s < ST; s++) {
            mbar_init(full0 + 8 * s, producers);
            mbar_init(empty0 + 8 * s, 4 * nact);
        }
        mbar_init(qbar, producers);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {  // ---- producer
        setmaxnreg_dec<24>();
        if (nt == 0) return;
#if VF_S90_TMA
        if (tma) {
            // Tiles [0, ntma) lie wholly inside the instance ((jb + j + 1) BK <= nk), or the instance ends where the
            // maps do (the last one: one instance at batch 1), so the TMA zero-fills past it; they come by TMA, issued
            // by one thread. The rest, at most one (the instance's last tile when BK does not divide nk), is
            // cp.async'd with zero fill by warps 1-3 (the TMA would read the next instance's rows there, finite or
            // not, and V rows must be finite: their p is 0, but 0 * inf is NaN). Q comes by TMA whole: its rows past
            // nq (the next instance's, or zeros past the tensor) only make rows that are never written (no step mixes
            // query rows: the row max and sum stay in a row's quad, wgmma keeps rows apart, the epilogue skips rows
            // >= nq).
            const int ntma = k0 + nk == maps.kRows ? nt : max(0, min(nt, nk / BK - jb));
            const int jp = nt - 1, sp_ = jp % ST;  // the boundary tile and its stage (when ntma < nt)
            const bool handoff = ntma < nt && jp >= ST;  // its stage held an earlier tile: wait until consumed
            if (tid < 32) {
                if (tid == 0) {
                    tma_prefetch(&maps.q);
                    tma_prefetch(&maps.k);
                    tma_prefetch(&maps.v);
                    mbar_arrive_expect_tx(qbar, QBYTES);
#pragma unroll
                    for (int c = 0; c < D / 64; c++) tma_load_2d(sQ + c * (BQ * 128), &maps.q, h * D + 64 * c, q0 + tile0, qbar);
                    for (int j = 0; j < ntma; j++) {
                        const int s = j % ST;
                        if (j >= ST) mbar_wait(empty0 + 8 * s, ((j / ST) - 1) & 1);
                        const uint32_t kt = sKV + s * STAGE, fb = full0 + 8 * s;
                        const int row = k0 + (jb + j) * BK;
                        mbar_arrive_expect_tx(fb, STAGE);  // before the copies: no phase can complete short
#pragma unroll
                        for (int c = 0; c < D / 64; c++) {
                            tma_load_2d(kt + c * (BK * 128), &maps.k, h * D + 64 * c, row, fb);
                            tma_load_2d(kt + KBYTES + c * (BK * 128), &maps.v, h * D + 64 * c, row, fb);
                        }
                    }
                    // This thread waits for the boundary tile's stage, as for any tile: in order, so that the parity
                    // wait cannot mistake an older phase (the barrier is at most one phase behind it here).
                    if (handoff) mbar_wait(empty0 + 8 * sp_, ((jp / ST) - 1) & 1);
                }
                __syncwarp();
                if (handoff) producer_arrive(NWG + 2, 128);  // releases warps 1-3 onto the consumed stage
                return;
            }
            if (ntma == nt) return;
            // The boundary tile (warps 1-3). Its full barrier counts one arrival, like a TMA tile's: every thread
            // waits for its own copies (wait_all), a named barrier gathers the 96, and only then does one thread
            // arrive (release; the consumers acquire it, then fence.proxy.async before wgmma reads the tile). Not
            // cp.async.mbarrier.arrive without .noinc, which would need no waiting: the PTX ISA says it raises the
            // pending count "prior to the asynchronous arrive-on operation", not that the raise is ordered before
            // another thread's arrival by a bar.sync in between, and a raise that came late would let that
            // arrival complete the phase before the data. The wait costs next to nothing: this is the CTA's last
            // tile and the producer has no more work.
            if (handoff) {
                producer_sync(NWG + 2, 128);
                fence_proxy_async();  // conservative: these generic-proxy writes follow async-proxy (TMA) ones there
            }
            const uint32_t kt = sKV + sp_ * STAGE;
            const int r0 = k0 + (jb + jp) * BK, n = nk - (jb + jp) * BK;  // the tile's first row, its valid rows
            load_rows_n<BK, D, 96>(kt, k + (long long)r0 * ks + h * D, ks, n, tid - 32);
            load_rows_n<BK, D, 96>(kt + KBYTES, v + (long long)r0 * vs + h * D, vs, n, tid - 32);
            cp_async_drain();
            producer_sync(NWG + 3, 96);
            if (tid == 32) mbar_arrive(full0 + 8 * sp_);
            return;
        }
#endif
        load_rows<BQ, D>(sQ, q + (long long)q0 * qs + h * D, qs, tile0, nq, tid);
        cp_async_arrive(qbar);
        const T* kp = k + (long long)k0 * ks + h * D;
        const T* vp = v + (long long)k0 * vs + h * D;
        for (int j = 0; j < nt; j++) {
            const int s = j % ST;
            if (j >= ST) mbar_wait(empty0 + 8 * s, ((j / ST) - 1) & 1);
            const uint32_t kt = sKV + s * STAGE;
            load_rows<BK, D>(kt, kp, ks, (jb + j) * BK, nk, tid);
            load_rows<BK, D>(kt + KBYTES, vp, vs, (jb + j) * BK, nk, tid);
            cp_async_arrive(full0 + 8 * s);
        }
    } else {  // ---- consumers
        setmaxnreg_inc<ConsumerRegs<NWG>::value>();
        const int w = wg - 1;
        if (w >= nact) return;
        const int warp = tid >> 5, lane = tid & 31, t = lane & 3;
        // take turns issuing the products (only when every consumer warpgroup is active)
        const bool pp = VF_S90_PP && NWG > 1 && nact == NWG;
        const int next = 1 + (w + 1) % NWG;
        float o[D / 2];
#pragma unroll
        for (int i = 0; i < D / 2; i++) o[i] = 0.f;
        float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, alpha[2];
        if (nt > 0) {
            float s[BK / 2];
            unsigned p[BK / 16][4];
            const uint32_t qa = sQ + w * 64 * 128;
            auto issue_qk = [&](int stage) {
                const uint32_t kb = sKV + stage * STAGE;
#pragma unroll
                for (int kk = 0; kk < D / 16; kk++)
                    wgmma_ss<T, BK>(s, sdesc(qa + (kk >> 2) * (BQ * 128) + (kk & 3) * 32, 16, 1024),
                                    sdesc(kb + (kk >> 2) * (BK * 128) + (kk & 3) * 32, 16, 1024), kk > 0);
            };
            auto issue_pv = [&](int stage) {
                const uint32_t vb = sKV + stage * STAGE + KBYTES;
#pragma unroll
                for (int kk = 0; kk < BK / 16; kk++) wgmma_rs<T, D>(o, p[kk], sdesc(vb + kk * 2048, BK * 128, 1024), 1);
            };
            if (pp && w == NWG - 1) named_arrive(1);  // warpgroup 0 goes first
            mbar_wait(qbar, 0);
            mbar_wait(full0, 0);
            fence_proxy_async();
            if (pp) named_sync(1 + w);
            wgmma_fence();
            issue_qk(0);
            wgmma_commit();
            if (pp) named_arrive(next);
            wgmma_wait<0>();
            keep(s);
            if ((jb + 1) * BK > nk) mask_tile<BK>(s, jb * BK + 2 * t, nk);
            softmax_tile<BK>(s, m, l, alpha, scale2);
            for (int j = 1; j < nt; j++) {
                pack_p<T, BK>(p, s);
                const int st = j % ST;
                mbar_wait(full0 + 8 * st, (j / ST) & 1);
                fence_proxy_async();
                if (pp) named_sync(1 + w);
                wgmma_fence();
                issue_qk(st);
                wgmma_commit();
                issue_pv((j - 1) % ST);
                wgmma_commit();
                if (pp) named_arrive(next);
                wgmma_wait<1>();
                keep(s);
                if ((jb + j + 1) * BK > nk) mask_tile<BK>(s, (jb + j) * BK + 2 * t, nk);
                softmax_tile<BK>(s, m, l, alpha, scale2);
                wgmma_wait<0>();
                keep(o);
                keep(p);
                if (lane == 0) mbar_arrive(empty0 + 8 * ((j - 1) % ST));
                if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
                    for (int i = 0; i < D / 8; i++) {
                        o[4 * i] *= alpha[0];
                        o[4 * i + 1] *= alpha[0];
                        o[4 * i + 2] *= alpha[1];
                        o[4 * i + 3] *= alpha[1];
                    }
                }
            }
            pack_p<T, BK>(p, s);
            if (pp) named_sync(1 + w);
            wgmma_fence();
            issue_pv((nt - 1) % ST);
            wgmma_commit();
            if (pp && w != NWG - 1) named_arrive(next);
            wgmma_wait<0>();
            keep(o);
            keep(p);
        }
        if (slot >= 0 && !split_combine<D, NWG>(o, m, l, sp, slot, part, nact, w, tid, last_part)) return;
        // epilogue: rows g and g + 8 of the warp's 16
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float lr = l[r];
            lr += __shfl_xor_sync(0xffffffffu, lr, 1);
            lr += __shfl_xor_sync(0xffffffffu, lr, 2);
            const int i = tile0 + w * 64 + warp * 16 + (lane >> 2) + 8 * r;
            if (i >= nq) continue;
            const float inv = nk == 0 ? 0.f : 1.f / lr;
            OutT* orow = out + (long long)(q0 + i) * os + h * D + 2 * t;
#pragma unroll
            for (int c = 0; c < D / 8; c++) store2<OutT>(orow + 8 * c, o[4 * c + 2 * r] * inv, o[4 * c + 2 * r + 1] * inv);
            if (t == 0) lse[(long long)(q0 + i) * H + h] = nk == 0 ? -INFINITY : (m[r] + __log2f(lr)) * LN2;
        }
    }
#endif
}

constexpr size_t kCounterBytes(int sms) { return ((size_t)sms * 4 + 255) / 256 * 256; }

// Per-CTA costs of the split's model, in key tiles: a CTA's own start and end (Q load, pipeline fill, output), and
// what a part adds (its slot, the counter, the fold). Fitted to an H100 sweep of P = 2, 3, 4, 8 on the production
// shapes (bench/flash_sm90_bench.cu, VF_SPLIT_SWEEP): with these the model picks the best measured P, or one within
// 1%, on each of them (and no split for 1 x 4096 x 1374 cross attention, where every split lost). More than 4 parts
// never won: the fold runs after the last part, and more parts are more CTAs to start.
constexpr double kCtaTiles = 2.0, kPartTiles = 2.0;
constexpr int kMaxParts = 4;

// The tail split for `units` CTAs on `sms` SMs (one CTA each): T = units mod sms tail units, each cut into P parts
// (ntMax: the most key tiles of any instance; 0 when unknown: no split). The T units take one more wave of
// ntMax + kCtaTiles; their T P parts take ceil(T P / sms) waves of ntMax / P + kCtaTiles + kPartTiles; P (up to
// kMaxParts, or 8 when forced; at least 2 key tiles a part; T P workspace slots) minimizes that. forceParts > 0
// imposes P (tuning).
void choose_split(S90Split& sp, long long units, int ntMax, size_t slotBytes, void* ws, long long wsBytes, int sms,
                  int forceParts) {
    sp.full = (int)units;
    sp.parts = 1;
    const long long tail = sms > 0 ? units % sms : 0;
    if (!ws || tail == 0 || ntMax < 2 || wsBytes <= (long long)kCounterBytes(sms)) return;
    const long long slots = (wsBytes - (long long)kCounterBytes(sms)) / (long long)slotBytes;
    double best = ntMax + kCtaTiles;
    for (int p = 2; p <= (forceParts > 0 ? 8 : kMaxParts) && 2 * p <= ntMax && tail * p <= slots; p++) {
        const double cost = (double)((tail * p + sms - 1) / sms) * ((double)ntMax / p + kCtaTiles + kPartTiles);
        if (forceParts > 0 ? p == forceParts : cost < best - 1e-9) best = cost, sp.parts = p;
    }
    if (sp.parts == 1) return;
    sp.full = (int)(units - tail);
    sp.counters = static_cast<int*>(ws);
    sp.ws = reinterpret_cast<float*>(static_cast<char*>(ws) + kCounterBytes(sms));
}

#if VF_S90_TMA
using EncodeTiled = PFN_cuTensorMapEncodeTiled_v12000;

// cuTensorMapEncodeTiled, taken from the driver through the runtime (the library does not link libcuda), looked up
// once; null when the driver does not offer it or VOXFLOW_SM90_TMA is "0" (the switch for A/B timing and for ruling
// the TMA out when chasing a fault): the launches then use cp.async.
EncodeTiled tensor_map_encoder() {
    static const EncodeTiled fn = [] {
        const char* env = getenv("VOXFLOW_SM90_TMA");
        if (env && env[0] == '0') return (EncodeTiled) nullptr;
        void* p = nullptr;
        cudaDriverEntryPointQueryResult r = cudaDriverEntryPointSymbolNotFound;
#if CUDART_VERSION >= 12050
        const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &r);
#else
        const cudaError_t e = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &p, cudaEnableDefault, &r);
#endif
        if (e != cudaSuccess) {
            (void)cudaGetLastError();  // ours, not an error of the caller's work
            return (EncodeTiled) nullptr;
        }
        return r == cudaDriverEntryPointSuccess ? reinterpret_cast<EncodeTiled>(p) : (EncodeTiled) nullptr;
    }();
    return fn;
}

// The 2D map of one of q, k, v: dimension 0 the H D elements of a token row (those a head's columns h D .. h D + D
// come from; the padding up to the stride is never addressed), dimension 1 the `rows` token rows of the whole
// tensor, `stride` elements apart (row r at base + r stride, as the kernel's pointer arithmetic). Boxes of 64
// elements (128 bytes: one row of the 128-byte swizzle, load_rows's 64-column half) x boxRows rows: the box at
// (h D + 64 c, row) is exactly the half c of rows row.. of head h that load_rows reads. Rows past `rows` read as
// zeros. False when the TMA cannot address the tensor (the launch then uses cp.async).
template <typename T>
bool encode_map(CUtensorMap& m, EncodeTiled enc, const void* base, long long stride, long long cols, long long rows,
                int boxRows) {
    const long long strideBytes = stride * (long long)sizeof(T);
    if (!enc || (reinterpret_cast<uintptr_t>(base) & 15) || strideBytes % 16 || stride < cols ||
        strideBytes >= (1LL << 40) || cols < 64 || cols > (1LL << 32) || rows < 1 || rows > (1LL << 31))
        return false;
    const cuuint64_t dim[2] = {(cuuint64_t)cols, (cuuint64_t)rows}, strides[1] = {(cuuint64_t)strideBytes};
    const cuuint32_t box[2] = {64, (cuuint32_t)boxRows}, estr[2] = {1, 1};
    constexpr CUtensorMapDataType dt =
        std::is_same<T, __half>::value ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    return enc(&m, dt, 2, const_cast<void*>(base), dim, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
               CU_TENSOR_MAP_SWIZZLE_128B,
               VF_S90_TMA_L2 == 128 ? CU_TENSOR_MAP_L2_PROMOTION_L2_128B : CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
               CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}
#endif

// rowsQ, rowsK: the query and key rows of the whole tensors (every instance's rows lie below), -1 when unknown
// (device offsets): no TMA then.
template <typename T, typename OutT, int D>
int launch(const void* q, long long qs, const void* k, long long ks, const void* v, long long vs, void* out, long long os,
           float* lse, const VfAttnOffsets& off, int batch, int heads, int maxQ, int maxK, long long rowsQ,
           long long rowsK, float scale, void* ws, long long wsBytes, int sms, int forceParts, cudaStream_t st) {
    using C = S90Cfg<D>;
    static unsigned long long ready = 0;
    constexpr size_t smem = s90_smem<D>();
    constexpr int BQ = 64 * C::NWG;
    const void* fn = (const void*)flash_fwd_sm90<T, OutT, D>;
    int err = vf_smem_attribute(fn, smem, ready);
    if (err) return err;
    const int gx = (maxQ + BQ - 1) / BQ;
    const long long units = (long long)gx * heads * batch;
    if (units > (1LL << 30)) return -1;
    S90Split sp{gx, (int)units, 1, nullptr, nullptr};
    choose_split(sp, units, maxK < 0 ? 0 : (maxK + C::BK - 1) / C::BK, split_slot_bytes<D>(), ws, wsBytes, sms, forceParts);
    const int grid = sp.full + (int)(units - sp.full) * sp.parts;
#if VF_S90_TMA
    S90Maps maps{};
    int tma = 0;
    if (rowsQ > 0 && rowsK > 0) {  // no keys anywhere: nothing to load
        const EncodeTiled enc = tensor_map_encoder();
        const long long cols = (long long)heads * D;
        tma = encode_map<T>(maps.q, enc, q, qs, cols, rowsQ, BQ) &&
              encode_map<T>(maps.k, enc, k, ks, cols, rowsK, C::BK) && encode_map<T>(maps.v, enc, v, vs, cols, rowsK, C::BK);
        maps.kRows = rowsK;
    }
#if VF_S90_TMA_VERBOSE  // tuning builds: say once which producer the launches get
    static int said = 0;
    if (!(said & (1 << tma))) {
        said |= 1 << tma;
        fprintf(stderr, "vf_flash_sm90: %s producer (rows %lld x %lld)\n", tma ? "TMA" : "cp.async", rowsQ, rowsK);
    }
#endif
    return vf_launch(flash_fwd_sm90<T, OutT, D>, grid, 128 * (C::NWG + 1), smem, st, static_cast<const T*>(q), qs,
                     static_cast<const T*>(k), ks, static_cast<const T*>(v), vs, static_cast<OutT*>(out), os, lse, off, sp,
                     heads, scale * LOG2E, maps, tma);
#else
    (void)rowsQ, (void)rowsK;
    return vf_launch(flash_fwd_sm90<T, OutT, D>, grid, 128 * (C::NWG + 1), smem, st, static_cast<const T*>(q), qs,
                     static_cast<const T*>(k), ks, static_cast<const T*>(v), vs, static_cast<OutT*>(out), os, lse, off, sp,
                     heads, scale * LOG2E);
#endif
}

// Whether the current device runs the sm_90a image: compute capability 9.0, and the kernel loaded for it is the
// real one (the sm_90a pass gives it static shared memory for its barriers; any other pass compiles an empty body).
// Cached per device (0 unknown, 1 yes, 2 no).
int device_ready() {
    static int state[64];
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return (int)e;
    if (dev >= 0 && dev < 64) {
        int s = __atomic_load_n(&state[dev], __ATOMIC_RELAXED);
        if (s) return s == 1 ? 0 : -1;
    }
    int major = 0, minor = 0;
    if ((e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev)) != cudaSuccess) return (int)e;
    if ((e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev)) != cudaSuccess) return (int)e;
    bool ok = major == 9 && minor == 0;
    if (ok) {
        cudaFuncAttributes a;
        e = cudaFuncGetAttributes(&a, (const void*)flash_fwd_sm90<__nv_bfloat16, float, 64>);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();  // no loadable image: not an error of the caller's work
            ok = false;
        } else {
            ok = a.sharedSizeBytes > 0;
        }
    }
    if (dev >= 0 && dev < 64) __atomic_store_n(&state[dev], ok ? 1 : 2, __ATOMIC_RELAXED);
    return ok ? 0 : -1;
}

}  // namespace

long long vf_flash_fwd_sm90_workspace() {
    if (device_ready() != 0) return 0;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return 0;
    const int sms = vf_device_attribute(cudaDevAttrMultiProcessorCount, dev);
    if (sms <= 0) return 0;
    // T < sms tail units in at most kMaxParts parts (a forced split that does not fit runs unsplit)
    return (long long)kCounterBytes(sms) + (long long)kMaxParts * sms * (long long)std::max(split_slot_bytes<64>(), split_slot_bytes<128>());
}

int vf_flash_fwd_sm90(const void* q, long long qStride, const void* k, long long kStride, const void* v,
                      long long vStride, int dtype, void* out, long long outStride, int outIsF32, float* lse,
                      const VfAttnOffsets& off, int batch, int heads, int d, int maxQ, float scale, void* workspace,
                      long long workspaceBytes, cudaStream_t st, int forceParts) {
    if (d != 64 && d != 128) return -1;
    if (dtype != VF_BF16 && dtype != VF_F16) return -1;
    if (!(scale > 0.f)) return -1;  // the running max is taken over unscaled scores
    if (qStride % 8 || kStride % 8 || vStride % 8 || outStride % 2) return -1;
    if ((reinterpret_cast<uintptr_t>(q) | reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) & 15) return -1;
    if (reinterpret_cast<uintptr_t>(out) & (outIsF32 ? 7 : 3)) return -1;
    if (batch == 0 || maxQ == 0 || heads == 0) return 0;
    if (int r = device_ready()) return r;
    // the longest key range and the rows of the q and k tensors (the end of the instance reaching furthest), known
    // when the offsets came inline (device offsets: -1, no split, no TMA)
    int maxK = -1;
    long long rowsQ = -1, rowsK = -1;
    if (!off.dev) {
        maxK = 0;
        for (int b = 0; b < batch; b++) {
            maxK = std::max(maxK, off.cu[batch + 2 + b] - off.cu[batch + 1 + b]);
            rowsQ = std::max(rowsQ, (long long)off.cu[b + 1]);
            rowsK = std::max(rowsK, (long long)off.cu[batch + 2 + b]);
        }
    }
    int dev = 0;
    if (cudaError_t e = cudaGetDevice(&dev)) return (int)e;
    const int sms = vf_device_attribute(cudaDevAttrMultiProcessorCount, dev);
#define VF_S90(T, D)                                                                                                    \
    return outIsF32 ? launch<T, float, D>(q, qStride, k, kStride, v, vStride, out, outStride, lse, off, batch, heads,  \
                                          maxQ, maxK, rowsQ, rowsK, scale, workspace, workspaceBytes, sms, forceParts, st) \
                    : launch<T, T, D>(q, qStride, k, kStride, v, vStride, out, outStride, lse, off, batch, heads, maxQ, \
                                      maxK, rowsQ, rowsK, scale, workspace, workspaceBytes, sms, forceParts, st)
    if (dtype == VF_BF16) {
        if (d == 64) VF_S90(__nv_bfloat16, 64);
        VF_S90(__nv_bfloat16, 128);
    }
    if (d == 64) VF_S90(__half, 64);
    VF_S90(__half, 128);
#undef VF_S90
}
