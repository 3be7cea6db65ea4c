// Failure reporting across the dispatcher. A kernel that rejects its arguments records the
// reason in a thread-local string and throws; libtorch's aoti_torch_call_dispatcher catches
// the exception and returns a failure code, and the C# caller (same thread) then reads the
// reason through llm_native_last_error().
#pragma once

#include <sstream>
#include <string>

#define LLM_EXPORT extern "C" __attribute__((visibility("default")))

LLM_EXPORT const char* llm_native_last_error();
LLM_EXPORT void llm_native_clear_error();
LLM_EXPORT void llm_native_set_error(const char* message);

namespace llm {

[[noreturn]] void fail(const std::string& message);

template <typename... Parts>
inline void check(bool condition, const Parts&... parts) {
    if (condition) return;
    std::ostringstream text;
    (text << ... << parts);
    fail(text.str());
}

}  // namespace llm
