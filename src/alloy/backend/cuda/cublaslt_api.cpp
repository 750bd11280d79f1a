#include "alloy/backend/cuda/cublaslt_api.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace alloy::cuda {
namespace {

void* open_cublaslt() {
  const std::string soname = "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);
  if (void* h = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  std::string reason = dlerror();
  // A toolkit outside the loader's path: the runtime this program runs with sits beside it.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cudaGetDeviceCount), &info) != 0 && info.dli_fname != nullptr) {
    const std::string beside = (std::filesystem::path(info.dli_fname).parent_path() / soname).string();
    if (void* h = dlopen(beside.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  }
  throw std::runtime_error("[gpu] cannot load " + soname + " (cuBLASLt, for matrix products on the GPU): " + reason);
}

template <typename Fn>
void bind(void* lib, const char* name, Fn& fn) {
  void* p = dlsym(lib, name);
  if (p == nullptr) throw std::runtime_error(std::string("[gpu] cuBLASLt has no ") + name + ": " + dlerror());
  fn = reinterpret_cast<Fn>(p);
}

}  // namespace

const CublasLt& cublaslt() {
  static const CublasLt api = [] {
    void* lib = open_cublaslt();
    CublasLt a{};
#define ALLOY_CUBLASLT_BIND(member, function) bind(lib, #function, a.member);
    ALLOY_CUBLASLT_FUNCTIONS(ALLOY_CUBLASLT_BIND)
#undef ALLOY_CUBLASLT_BIND
    return a;
  }();
  return api;
}

}  // namespace alloy::cuda
