// Tensor arguments of a boxed kernel. The dispatcher puts a new handle per tensor on the stack;
// the kernel owns those handles and must delete them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "errors.h"
#include "torch_abi.h"

namespace llm {

// F8E4M3 and F8E5M2: libtorch's Float8_e4m3fn and Float8_e5m2 (fp8.h), elements of fp8 KV caches.
enum class DType { F32, BF16, F16, I32, I64, F8E4M3, F8E5M2, Other };

inline const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "float32";
        case DType::BF16: return "bfloat16";
        case DType::F16: return "float16";
        case DType::I32: return "int32";
        case DType::I64: return "int64";
        case DType::F8E4M3: return "float8_e4m3fn";
        case DType::F8E5M2: return "float8_e5m2";
        default: return "unsupported dtype";
    }
}

inline DType dtype_of(int32_t code) {
    static const int32_t f32 = aoti_torch_dtype_float32(), bf16 = aoti_torch_dtype_bfloat16(),
                         f16 = aoti_torch_dtype_float16(), i32 = aoti_torch_dtype_int32(),
                         i64 = aoti_torch_dtype_int64(), e4m3 = aoti_torch_dtype_float8_e4m3fn(),
                         e5m2 = aoti_torch_dtype_float8_e5m2();
    if (code == f32) return DType::F32;
    if (code == bf16) return DType::BF16;
    if (code == f16) return DType::F16;
    if (code == i32) return DType::I32;
    if (code == i64) return DType::I64;
    if (code == e4m3) return DType::F8E4M3;
    if (code == e5m2) return DType::F8E5M2;
    return DType::Other;
}

inline int element_size(DType t) {
    switch (t) {
        case DType::F32: case DType::I32: return 4;
        case DType::BF16: case DType::F16: return 2;
        case DType::I64: return 8;
        case DType::F8E4M3: case DType::F8E5M2: return 1;
        default: return 0;
    }
}

// Deletes the tensor handles of a boxed kernel's stack when the kernel leaves, however it leaves.
class HandleGuard {
public:
    HandleGuard(const StableIValue* stack, std::initializer_list<int> tensor_slots) {
        for (int i : tensor_slots) handles_.push_back(reinterpret_cast<AtenTensorHandle>(stack[i]));
    }
    ~HandleGuard() {
        for (AtenTensorHandle h : handles_)
            if (h) aoti_torch_delete_tensor_object(h);
    }
    HandleGuard(const HandleGuard&) = delete;
    HandleGuard& operator=(const HandleGuard&) = delete;

private:
    std::vector<AtenTensorHandle> handles_;
};

// A tensor as a plain C export's caller describes it: its memory, sizes and strides (up to 4
// dimensions) and its DType's number. The C# side fills it (NativeKernels.RawTensor).
struct RawTensor {
    void* data;
    int64_t dim;
    int64_t sizes[4];
    int64_t strides[4];
    int32_t dtype;
};

// A shape printed as [a, b, c] when a failed check formats its message, and not before: the
// checks of every call build their arguments whether they pass or not.
struct ShapeText {
    int64_t dim;
    const int64_t* sizes;
};

inline std::ostream& operator<<(std::ostream& out, const ShapeText& shape) {
    out << '[';
    for (int64_t d = 0; d < shape.dim; ++d) out << (d ? ", " : "") << shape.sizes[d];
    return out << ']';
}

// A borrowed view of one tensor argument (the handle stays owned by a HandleGuard, or the
// RawTensor by the plain export's caller).
struct TensorArg {
    const char* name = "";
    AtenTensorHandle handle = nullptr;
    void* data = nullptr;
    int64_t dim = 0;
    const int64_t* sizes = nullptr;
    const int64_t* strides = nullptr;
    DType dtype = DType::Other;
    bool cuda = false;
    int32_t device_index = 0;

    TensorArg(StableIValue value, const char* arg_name) : name(arg_name), handle(reinterpret_cast<AtenTensorHandle>(value)) {
        check(handle != nullptr, name, ": missing tensor");
        int32_t code = 0, device = 0;
        int64_t* s = nullptr;
        int64_t* st = nullptr;
        check(aoti_torch_get_data_ptr(handle, &data) == 0 && aoti_torch_get_dim(handle, &dim) == 0 &&
                  aoti_torch_get_sizes(handle, &s) == 0 && aoti_torch_get_strides(handle, &st) == 0 &&
                  aoti_torch_get_dtype(handle, &code) == 0 && aoti_torch_get_device_type(handle, &device) == 0 &&
                  aoti_torch_get_device_index(handle, &device_index) == 0,
              name, ": cannot read tensor metadata");
        sizes = s;
        strides = st;
        dtype = dtype_of(code);
        static const int32_t cuda_type = aoti_torch_device_type_cuda();
        cuda = device == cuda_type;
    }
    TensorArg(const RawTensor& raw, const char* arg_name)
        : name(arg_name), data(raw.data), dim(raw.dim), sizes(raw.sizes), strides(raw.strides) {
        check(raw.dim >= 0 && raw.dim <= 4, name, ": 0 to 4 dimensions expected, got ", raw.dim);
        check(raw.dtype >= 0 && raw.dtype < static_cast<int32_t>(DType::Other), name, ": unknown dtype ", raw.dtype);
        dtype = static_cast<DType>(raw.dtype);
    }
    TensorArg(const TensorArg&) = delete;
    TensorArg& operator=(const TensorArg&) = delete;

    int64_t size(int d) const { return sizes[d]; }
    int64_t stride(int d) const { return strides[d]; }
    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d = 0; d < dim; ++d) n *= sizes[d];
        return n;
    }
    bool contiguous() const {
        int64_t expected = 1;
        for (int64_t d = dim - 1; d >= 0; --d) {
            if (sizes[d] != 1 && strides[d] != expected) return false;
            expected *= sizes[d];
        }
        return true;
    }
    ShapeText shape() const { return {dim, sizes}; }
    void expect(int64_t rank, DType type) const {
        check(dim == rank, name, ": expected ", rank, " dimensions, got ", shape());
        check(dtype == type, name, ": expected ", dtype_name(type), ", got ", dtype_name(dtype));
    }
    template <typename T> T* as() const { return static_cast<T*>(data); }
};

inline int64_t as_int(StableIValue v) { return static_cast<int64_t>(v); }
inline double as_double(StableIValue v) {
    double d;
    static_assert(sizeof d == sizeof v);
    __builtin_memcpy(&d, &v, sizeof d);
    return d;
}

}  // namespace llm
