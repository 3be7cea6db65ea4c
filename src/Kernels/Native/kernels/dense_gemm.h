// GEMM on dense weights packed once at load: out = x · Wᵀ for x [m, k] (any m: decode steps and prompt
// chunks) and W [n, k] in bfloat16 (AVX512_BF16 dot products) or float32 (FMAs), float32 sums; a
// bfloat16 product's out is rounded once to bfloat16 (nearest even, as libtorch rounds) or kept in float32.
//
// Layout: W's rows (the output columns) go in groups of 16; per step of k a group holds one zmm whose
// 32-bit lane c holds column c's weights of that step: bfloat16 a pair (W[16g + c][2p], W[16g + c][2p + 1]),
// float32 one W[16g + c][p]. One `vdpbf16ps` (or FMA) of that zmm and x's pair (or element) broadcast to
// every lane adds the step's products to 16 outputs of a row: no horizontal sums, no shuffles. Rows past n
// and the half pair past an odd k are zero.
//
//   group g (16 output columns), bfloat16:      x row i
//   p=0: [c0: w0,w1 | c1: w0,w1 | ... | c15]   (x0,x1) broadcast -> acc[i] += w·x  (16 lanes)
//   p=1: [c0: w2,w3 | ...                  ]   (x2,x3) broadcast
//
// Every output is one chain of float32 additions in k order, whatever the number of rows: a row's bits do
// not depend on its batch. Register tiles of up to 8 rows x 3 groups (24 float32 accumulators): per step 3
// weight loads and 8 broadcasts feed 24 dot products. Items are 48 columns x up to 256 rows, so a decode
// step reads each weight byte from memory once (the other row tiles find it in L2).
//
// On CPUs with AMX-BF16 (dense_gemm_amx.cpp) bfloat16 products run on tiles instead, at every row count:
// a group's 16 consecutive zmm are a B tile as they are. tdpbf16ps does not give vdpbf16ps's bits (which
// add each pair's odd product, then its even one, rounding each: exactly so on 768,000 random outputs; about
// half of the tiles' float32 outputs differ in the last bits and match no simple order), so no row count may
// mix the two: on tiles too a row's sums run the same blocks of 32 k in the same order whatever its tile or
// batch, and a row's bits do not depend on its batch, but they are not the AVX-512 kernel's. Tiles of 16 rows
// (one of m rows when m < 16) x 2 groups, 2 x 2 per pass; items 64 columns wide. LLM_AMX=0 keeps AVX-512.
#pragma once

#include <cstdint>

namespace llm {

struct PackedDense {
    bool f32;                  // float32 weights; else bfloat16
    int64_t n, k, groups, steps;  // steps of k per group: k (float32) or (k + 1) / 2 (bfloat16 pairs)
    void* data;                // groups back to back, each `steps` zmm; 2 MiB-aligned

    const char* group(int64_t g) const { return static_cast<const char*>(data) + g * steps * 64; }
};

// Whether the packed kernels run here: float32 where the kernels run at AVX-512, bfloat16 where the CPU
// also has AVX512_BF16.
bool dense_gemm_available(bool f32);

// A packed copy of weight [n, k] (row-major, float32 when f32, else bfloat16); release with free_dense.
PackedDense* pack_dense(const void* weight, bool f32, int64_t n, int64_t k);
void free_dense(PackedDense* packed);

// The dense weight [n, k] back from its packed copy.
void unpack_dense(const PackedDense& packed, void* weight);

// Whether bfloat16 products run on AMX tiles: the CPU has AMX-BF16, this process may use it (isa.h), the kernels
// run at AVX-512 and LLM_AMX is not 0.
bool dense_amx_enabled();

// Which kernel computes a bfloat16 product: the one this machine uses (Auto), or one named, to compare them.
enum class DenseKernel { Auto = 0, Avx512 = 1, Amx = 2 };

// out [m, n] (row stride ldo) = x [m, k] (row stride ldx, the weight's dtype) · Wᵀ; out float32 when out_f32
// (always so for float32 weights), else bfloat16.
void dense_gemm(void* out, int64_t ldo, bool out_f32, const void* x, int64_t ldx, int64_t m, const PackedDense& weight,
                DenseKernel kernel = DenseKernel::Auto);

namespace avx512dense {
// Packs group g of weight [n, k] into its place in packed.
void pack_group(const void* weight, const PackedDense& packed, int64_t group);
// out rows [m0, m1) x groups [g0, g1) (g1 - g0 <= 3), fetching groups [g1, next) (up to 3) meanwhile.
void gemm_block(void* out, int64_t ldo, bool out_f32, const void* x, int64_t ldx, int64_t m0, int64_t m1, const PackedDense& w,
                int64_t g0, int64_t g1, int64_t next);
}  // namespace avx512dense

namespace amxdense {
constexpr int64_t kBlockGroups = 4;  // two passes of a 2-group tile
// x [m, k] copied as the A tiles read it: per tile of 16 rows (one of m rows when m < 16) and block of 32 k, the
// tile's rows of 64 bytes back to back (loads of one contiguous KiB; x's own rows 4 KiB apart, k 2048, fell into
// one L1 set); rows past m and k past its end are zero.
struct Rows {
    int64_t m, rows;        // rows of x; rows per tile
    int64_t blocks, whole;  // blocks of 32 k; those without k's end
    const uint16_t* tiles;  // [tile][block][rows][32]

    const char* a(int64_t tile, int64_t block) const { return reinterpret_cast<const char*>(tiles + (tile * blocks + block) * rows * 32); }
};
// x's tiles, in the calling thread's scratch (valid until its next call), copied on the pool when large.
Rows prepare(const void* x, int64_t ldx, int64_t m, int64_t k);
// out rows [m0, m1) (m0 a multiple of 16) x groups [g0, g1) (g1 - g0 <= kBlockGroups), fetching groups [g1, next)
// meanwhile. Loads its tile configuration and releases the tiles: any thread may call it.
void gemm_block(void* out, int64_t ldo, bool out_f32, const Rows& x, int64_t m0, int64_t m1, const PackedDense& w, int64_t g0,
                int64_t g1, int64_t next);
}  // namespace amxdense

}  // namespace llm
