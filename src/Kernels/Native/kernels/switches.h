// The kernels' A/B switches: a path that is on unless its environment variable starts with '0', so that
// one build can compare it with the path it replaced. Callers keep the answer in a static (read once).
#pragma once

#include <cstdlib>

namespace llm {

inline bool switched_on(const char* name) {
    const char* v = std::getenv(name);
    return !(v && v[0] == '0');
}

}  // namespace llm
