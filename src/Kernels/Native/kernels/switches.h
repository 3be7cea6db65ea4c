// The kernels' settings from the environment. A/B switches: a path that is on unless its variable starts
// with '0', so that one build can compare it with the path it replaced. Numbers: the variable's integer, or
// a default where it is not set. Callers keep the answer in a static (read once).
#pragma once

#include <cstdlib>

namespace llm {

inline bool switched_on(const char* name) {
    const char* v = std::getenv(name);
    return !(v && v[0] == '0');
}

inline long long env_number(const char* name, long long fallback) {
    const char* v = std::getenv(name);
    return v ? std::atoll(v) : fallback;
}

}  // namespace llm
