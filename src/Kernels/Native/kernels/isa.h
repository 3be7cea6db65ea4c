// Which vector instruction set the CPU kernels use, chosen at run time from the CPU's flags
// (the library itself is compiled for baseline x86-64; the AVX2 and AVX-512 kernels carry
// function-level target attributes).
#pragma once

namespace llm {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

Isa detected_isa();          // the best the CPU and OS support
Isa selected_isa();          // what the kernels use now (detected, unless lowered)
bool select_isa(Isa isa);    // lower (or restore) the selection; false if the CPU lacks it
const char* isa_name(Isa isa);
bool has_avx512_bf16();      // AVX512_BF16 dot products (vdpbf16ps), apart from the selection
// AMX-BF16 tiles (tdpbf16ps) that this process may use: the CPU has them, the OS saves their state (XCR0) and
// granted this process the tile data (Linux arch_prctl, asked on the first call, before any thread uses
// tiles; a refusal leaves AMX off). Apart from the selection.
bool has_amx_bf16();

}  // namespace llm
