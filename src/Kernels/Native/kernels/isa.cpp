#include "isa.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "switches.h"

namespace llm {

namespace {

Isa detect() {
    __builtin_cpu_init();
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        return Isa::Avx512;
    // The AVX2 kernels read float16 caches with F16C (which every AVX2 CPU has).
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return Isa::Avx2;
    return Isa::Scalar;
}

Isa initial() {
    Isa best = detect();
    if (const char* env = std::getenv("LLM_NATIVE_ISA")) {  // for comparisons: LLM_NATIVE_ISA=avx2
        Isa wanted = std::strcmp(env, "scalar") == 0 ? Isa::Scalar : std::strcmp(env, "avx2") == 0 ? Isa::Avx2 : best;
        if (static_cast<int>(wanted) < static_cast<int>(best)) return wanted;
    }
    return best;
}

std::atomic<int>& selection() {
    static std::atomic<int> isa{static_cast<int>(initial())};
    return isa;
}

}  // namespace

Isa detected_isa() {
    static const Isa isa = detect();
    return isa;
}

bool has_avx512_bf16() {
    static const bool has = detected_isa() == Isa::Avx512 && __builtin_cpu_supports("avx512bf16");
    return has;
}

bool has_avx512_vbmi() {
    static const bool has = detected_isa() == Isa::Avx512 && __builtin_cpu_supports("avx512vbmi");
    return has;
}

namespace {

bool cpuid7_edx(int bit) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((d >> bit) & 1);
}

// AMX tiles usable in this process: OSXSAVE (XGETBV usable), AMX-TILE, the OS saves XTILECFG and XTILEDATA
// (XCR0), and Linux (5.16+), which leaves the 8 KB of tile data out of a thread's state until the process
// asks for it, granted it (asked once, before any thread uses tiles).
bool tiles_permitted() {
    static const bool permitted = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1) || !cpuid7_edx(24)) return false;
        unsigned xcr0_low, xcr0_high;
        __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
        if (((xcr0_low >> 17) & 3) != 3) return false;
        constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return permitted;
}

}  // namespace

bool amx_int8_available() {
    static const bool available = switched_on("LLM_AMX") && cpuid7_edx(25) && tiles_permitted();
    return available;
}

bool has_amx_bf16() {
    static const bool has = cpuid7_edx(22) && tiles_permitted();
    return has;
}

Isa selected_isa() { return static_cast<Isa>(selection().load(std::memory_order_relaxed)); }

bool select_isa(Isa isa) {
    if (static_cast<int>(isa) > static_cast<int>(detected_isa())) return false;
    selection().store(static_cast<int>(isa), std::memory_order_relaxed);
    return true;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Avx512: return "avx512";
        case Isa::Avx2: return "avx2";
        default: return "scalar";
    }
}

}  // namespace llm
