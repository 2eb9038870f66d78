// repae native addon entry point: runs every registered part's init (see registry.h).
#include "registry.h"

#include <vector>

namespace repae {
namespace {
struct Part {
  const char* name;
  PartInit init;
};
std::vector<Part>& Parts() {
  static std::vector<Part> parts;  // function-local: safe against static-initialisation order
  return parts;
}
}  // namespace

int RegisterPart(const char* name, PartInit init) {
  Parts().push_back({name, init});
  return static_cast<int>(Parts().size());
}
}  // namespace repae

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& p : repae::Parts()) {
    p.init(env, exports);
    names.Set(i++, Napi::String::New(env, p.name));
  }
  exports.Set("parts", names);
  return exports;
}

NODE_API_MODULE(repae_native, Init)
