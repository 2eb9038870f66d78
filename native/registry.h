// repae native addon: a registry of parts. Each source file in native/ registers its exports with
// REPAE_REGISTER_PART(name, fn) at static-initialisation time; addon.cc's module init calls them all.
// This keeps every part (tensors and ops, collectives, ...) in its own file with no shared edit point.
#pragma once
#include <napi.h>

namespace repae {
using PartInit = void (*)(Napi::Env env, Napi::Object exports);
int RegisterPart(const char* name, PartInit init);
}  // namespace repae

#define REPAE_CONCAT_INNER(a, b) a##b
#define REPAE_CONCAT(a, b) REPAE_CONCAT_INNER(a, b)
#define REPAE_REGISTER_PART(name, fn) \
  static const int REPAE_CONCAT(repae_part_, __LINE__) = ::repae::RegisterPart(name, fn)
