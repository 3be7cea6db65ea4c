// The AMX tile configuration (palette 1) that `ldtilecfg` loads, shared by the AMX-BF16 and AMX-INT8 kernels.
// Tile configuration is per thread: a kernel loads it before its tiles and releases them after.
#pragma once

#include <cstdint>

namespace llm {

struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t bytes_per_row[16] = {};  // of each tile
    uint8_t rows[16] = {};
};

}  // namespace llm
