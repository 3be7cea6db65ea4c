// Provides the one libstdc++ symbol of version GLIBCXX_3.4.32 that TorchSharp's native
// library asks for, on systems whose libstdc++ is older (GCC 12: Debian 12, Ubuntu 22.04).
// GCC 13 emits the reference from <iostream> so that the standard streams are initialised
// by the library; constructing an ios_base::Init here does the same on older libstdc++.
#include <ios>

namespace std {
void ios_base_library_init() {
    static ios_base::Init init;
}
}  // namespace std

namespace {
struct InitAtLoad {
    InitAtLoad() { std::ios_base_library_init(); }
} init_at_load;
}  // namespace
