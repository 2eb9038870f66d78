// repae native addon part "runtime": intra-op thread count, which BLAS library is mapped into the
// process (Debian's default libblas.so.3 is the slow netlib reference), CUDA build/availability.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <torch/version.h>

#include <fstream>
#include <set>
#include <string>

#include "registry.h"
#include "tensor.h"

#ifdef REPAE_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace repae {
namespace {
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: thread count must be >= 1");
  at::set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

// Paths of mapped shared objects whose file name mentions blas, lapack, mkl or openblas.
Napi::Value BlasLibraries(const Napi::CallbackInfo& info) {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") != std::string::npos || base.find("lapack") != std::string::npos || base.find("mkl") != std::string::npos)
      found.insert(path);
  }
  auto a = Napi::Array::New(info.Env(), found.size());
  uint32_t i = 0;
  for (const auto& p : found) a.Set(i++, Napi::String::New(info.Env(), p));
  return a;
}

Napi::Value Cuda(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
#ifdef REPAE_WITH_CUDA
  o.Set("built", true);
  int count = 0;
  try {
    count = static_cast<int>(c10::cuda::device_count());
  } catch (const std::exception&) {
    count = 0;
  }
  o.Set("deviceCount", count);
  o.Set("available", at::hasCUDA() && count > 0);
#else
  o.Set("built", false);
  o.Set("deviceCount", 0);
  o.Set("available", false);
#endif
  return o;
}

Napi::Value Config(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), at::show_config()); }

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("blasLibraries", Napi::Function::New(env, BlasLibraries, "blasLibraries"));
  exports.Set("cuda", Napi::Function::New(env, Cuda, "cuda"));
  exports.Set("config", Napi::Function::New(env, Config, "config"));
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
}
}  // namespace

REPAE_REGISTER_PART("runtime", Init);
}  // namespace repae
