// The part of libtorch's stable C ABI (torch/csrc/inductor/aoti_torch/c/shim.h) that the
// kernels use, declared here because the TorchSharp NuGet packages ship libtorch without
// headers. Every function is exported by libtorch_cpu.so (libtorch 2.10); the CUDA stream
// getter by libtorch_cuda.so. Only pointers and fixed-width integers cross this boundary.
#pragma once

#include <cstdint>

extern "C" {

typedef int32_t AOTITorchError;  // 0 = success
struct AtenTensorOpaque;
typedef AtenTensorOpaque* AtenTensorHandle;  // an at::Tensor* owned by whoever holds the handle
struct TorchLibraryOpaque;
typedef TorchLibraryOpaque* TorchLibraryHandle;  // a heap torch::Library
typedef uint64_t StableIValue;                   // one boxed argument: handle, int64 or double bits

typedef void (*BoxedKernel)(StableIValue* stack, uint64_t num_args, uint64_t num_outputs);

int32_t aoti_torch_device_type_cpu();
int32_t aoti_torch_device_type_cuda();
int32_t aoti_torch_dtype_float32();
int32_t aoti_torch_dtype_bfloat16();
int32_t aoti_torch_dtype_float16();
int32_t aoti_torch_dtype_int32();
int32_t aoti_torch_dtype_int64();
int32_t aoti_torch_dtype_float8_e4m3fn();
int32_t aoti_torch_dtype_float8_e5m2();

AOTITorchError aoti_torch_delete_tensor_object(AtenTensorHandle tensor);
AOTITorchError aoti_torch_new_tensor_handle(AtenTensorHandle orig, AtenTensorHandle* new_handle);
AOTITorchError aoti_torch_get_data_ptr(AtenTensorHandle tensor, void** ret);
AOTITorchError aoti_torch_get_dim(AtenTensorHandle tensor, int64_t* ret);
AOTITorchError aoti_torch_get_sizes(AtenTensorHandle tensor, int64_t** ret);
AOTITorchError aoti_torch_get_strides(AtenTensorHandle tensor, int64_t** ret);
AOTITorchError aoti_torch_get_dtype(AtenTensorHandle tensor, int32_t* ret);
AOTITorchError aoti_torch_get_device_type(AtenTensorHandle tensor, int32_t* ret);
AOTITorchError aoti_torch_get_device_index(AtenTensorHandle tensor, int32_t* ret);

AOTITorchError aoti_torch_library_init_def(const char* ns, const char* file, uint32_t line, TorchLibraryHandle* ret);
AOTITorchError aoti_torch_library_init_impl(const char* ns, const char* key, const char* file, uint32_t line,
                                            TorchLibraryHandle* ret);
AOTITorchError aoti_torch_library_def(TorchLibraryHandle self, const char* schema);
AOTITorchError aoti_torch_library_impl(TorchLibraryHandle self, const char* name, BoxedKernel fn);

}  // extern "C"
