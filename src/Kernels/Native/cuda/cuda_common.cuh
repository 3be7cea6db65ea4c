// Shared by the CUDA kernels: libtorch's CUDA stream and device guard through the stable C ABI,
// scratch memory from libtorch's caching allocator, bfloat16 conversions, error checks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "errors.h"
#include "tensor_arg.h"
#include "torch_abi.h"

extern "C" {
struct DeviceGuardOpaque;
typedef DeviceGuardOpaque* DeviceGuardHandle;
AOTITorchError aoti_torch_create_device_guard(int32_t device_index, DeviceGuardHandle* ret_guard);
AOTITorchError aoti_torch_delete_device_guard(DeviceGuardHandle guard);
AOTITorchError aoti_torch_empty_strided(int64_t ndim, const int64_t* sizes, const int64_t* strides, int32_t dtype,
                                        int32_t device_type, int32_t device_index, AtenTensorHandle* ret);
// exported by libtorch_cuda.so
AOTITorchError aoti_torch_get_current_cuda_stream(int32_t device_index, void** ret_stream);
}

namespace llm::cuda {

// Makes the tensor's device current for the call (as at::cuda::CUDAGuard does).
class DeviceGuard {
public:
    explicit DeviceGuard(int32_t device) { check(aoti_torch_create_device_guard(device, &guard_) == 0, "cannot set the CUDA device"); }
    ~DeviceGuard() { aoti_torch_delete_device_guard(guard_); }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    DeviceGuardHandle guard_ = nullptr;
};

// libtorch's current stream on the device: work queued there is ordered with torch's own ops.
inline cudaStream_t current_stream(int32_t device) {
    void* stream = nullptr;
    check(aoti_torch_get_current_cuda_stream(device, &stream) == 0, "cannot get the current CUDA stream");
    return static_cast<cudaStream_t>(stream);
}

// float32 scratch from libtorch's caching allocator; freed (for reuse on the same stream) when dropped.
class DeviceScratch {
public:
    DeviceScratch(int64_t floats, int32_t device) {
        int64_t stride = 1;
        check(aoti_torch_empty_strided(1, &floats, &stride, aoti_torch_dtype_float32(), aoti_torch_device_type_cuda(), device,
                                       &handle_) == 0,
              "cannot allocate ", floats, " floats of CUDA scratch");
        void* p = nullptr;
        aoti_torch_get_data_ptr(handle_, &p);
        data_ = static_cast<float*>(p);
    }
    ~DeviceScratch() {
        if (handle_) aoti_torch_delete_tensor_object(handle_);
    }
    DeviceScratch(const DeviceScratch&) = delete;
    DeviceScratch& operator=(const DeviceScratch&) = delete;
    float* data() const { return data_; }

private:
    AtenTensorHandle handle_ = nullptr;
    float* data_ = nullptr;
};

inline void check_launch(const char* what) {
    cudaError_t e = cudaGetLastError();
    check(e == cudaSuccess, what, ": ", cudaGetErrorString(e));
}

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// Calls f(T{}) with T the CUDA type of a float32/bfloat16 dtype.
template <typename F>
inline void with_float_type(DType t, F&& f) {
    if (t == DType::F32) f(float{});
    else if (t == DType::BF16) f(__nv_bfloat16{});
    else fail("float32 or bfloat16 expected");
}

}  // namespace llm::cuda
