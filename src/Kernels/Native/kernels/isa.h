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
bool has_avx512_vbmi();      // AVX512_VBMI byte permutes (vpermi2b), apart from the selection
// AMX-INT8 tiles usable in this process: CPUID (amx-tile, amx-int8), the OS saves the tile state (XCR0),
// Linux granted the permission (asked once, before any thread uses tiles), and LLM_AMX is not 0.
bool amx_int8_available();
// AMX-BF16 tiles (tdpbf16ps) usable in this process, as amx_int8_available but for amx-bf16, and apart from
// LLM_AMX and the selection (dense_amx_enabled applies them).
bool has_amx_bf16();

}  // namespace llm
