// Stands in for TorchSharp's libLibTorchSharp.so when .NET binds TorchSharp's P/Invokes (see
// TorchSharpScalarGuard.cs): every symbol resolves to libLibTorchSharp.so, this library's
// dependency, except THSTorch_dispose_scalar, which defers the free.
//
// Why: TorchSharp (0.107) frees a Scalar in its finalizer and does not keep a Scalar alive across
// the native call that reads it. A Scalar made by an implicit conversion (t.add(u) passes alpha 1,
// t.masked_fill(mask, -inf), t.pow(2)) is unreachable once its handle is passed, so a collection
// during the call can finalize it and free the c10::Scalar libtorch is about to read: the call
// then fails ("Expected false to be true" from Scalar::toFloat, an internal assert in
// Scalar::equal) or reads a wrong value, and a failed step fails every request batched in it.
// Freed scalars wait here until many later ones have been freed, far longer than any one call.
#include <dlfcn.h>

#include <cstddef>
#include <mutex>

namespace {

using DisposeScalar = void (*)(void*);

// 2^18 scalars of ~32 bytes: about 10 MB held at most.
constexpr std::size_t kQuarantine = std::size_t{1} << 18;

DisposeScalar real_dispose() {
    static const DisposeScalar real = [] {
        void* torchsharp = dlopen("libLibTorchSharp.so", RTLD_NOW | RTLD_NOLOAD);
        return torchsharp ? reinterpret_cast<DisposeScalar>(dlsym(torchsharp, "THSTorch_dispose_scalar")) : nullptr;
    }();
    return real;
}

// Never destroyed: the finalizer thread may still free scalars while the process exits.
std::mutex& mutex = *new std::mutex;
void** const ring = new void*[kQuarantine]();
std::size_t next = 0;

}  // namespace

extern "C" __attribute__((visibility("default"))) void THSTorch_dispose_scalar(void* scalar) {
    void* expired;
    {
        std::lock_guard<std::mutex> lock(mutex);
        expired = ring[next];
        ring[next] = scalar;
        next = (next + 1) % kQuarantine;
    }
    if (expired)
        if (DisposeScalar dispose = real_dispose()) dispose(expired);
}
