// repae native addon: torch tensor handles shared by every part (ops, collectives, ...).
// A handle is a JS External owning one at::Tensor; `dispose(h)` frees the tensor at once, the GC
// finaliser frees the (then empty) holder. Other parts use only these two functions.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <optional>
#include <string>

namespace repae {
// The tensor a handle owns (a reference: in-place ops on it are visible to every user of the
// handle). Throws a JS TypeError when `v` is not a live tensor handle (wrong type or disposed).
at::Tensor& UnwrapTensor(const Napi::Value& v);
// A new handle owning `t` (shares storage with `t`; no copy). An undefined tensor wraps to null.
Napi::Value WrapTensor(Napi::Env env, at::Tensor t);
// The ATen dtype of a dtype name (float32, int32, bool, float64, int64, uint8, float16, bfloat16), if known.
std::optional<at::ScalarType> DtypeFromName(const std::string& name);
// Whether `v` is a tensor handle (live or disposed).
bool IsTensorHandle(const Napi::Value& v);
}  // namespace repae
