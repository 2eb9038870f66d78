// repae native addon part "tensor": tensor handles (External + finaliser + explicit dispose),
// creation from a TypedArray (copy), read-back to a TypedArray (copy), metadata, live counts.
#include "tensor.h"

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "registry.h"

namespace repae {
namespace {
// Type tag distinguishing our Externals from any other External.
constexpr napi_type_tag kTensorTag = {0x7265706165746e73ULL, 0x6f72636874656e73ULL};

std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_bytes{0};

int64_t Bytes(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0; }

struct Holder {
  at::Tensor t;
  int64_t bytes = 0;
  explicit Holder(at::Tensor x) : t(std::move(x)), bytes(Bytes(t)) {
    g_live.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  void Release() {
    if (!t.defined()) return;
    t = at::Tensor();
    g_live.fetch_sub(1, std::memory_order_relaxed);
    g_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  }
  ~Holder() { Release(); }
};

Holder* HolderOf(const Napi::Value& v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<Holder>>();
  if (!ext.CheckTypeTag(&kTensorTag)) return nullptr;
  return ext.Data();
}

at::ScalarType ParseDtype(Napi::Env env, const std::string& s) {
  if (auto d = DtypeFromName(s)) return *d;
  throw Napi::TypeError::New(env, "repae native: unsupported dtype '" + s + "' (float32, int32, bool, float64, int64, uint8, float16, bfloat16)");
}

const char* DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kInt: return "int32";
    case at::kBool: return "bool";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kByte: return "uint8";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    default: return "other";
  }
}

std::vector<int64_t> ParseShape(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsArray()) throw Napi::TypeError::New(env, "repae native: shape must be an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> shape(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, "repae native: shape entries must be numbers");
    shape[i] = e.As<Napi::Number>().Int64Value();
  }
  return shape;
}

// fromTypedArray(data: TypedArray, shape: number[], dtype: string) -> handle. Copies.
Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "fromTypedArray(data: TypedArray, shape: number[], dtype: string)");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = ParseShape(info[1]);
  auto dtype = ParseDtype(env, info[2].As<Napi::String>().Utf8Value());
  c10::InferenceMode guard;
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  size_t need = static_cast<size_t>(t.numel()) * t.element_size();
  size_t have = ta.ByteLength();
  if (have != need)
    throw Napi::RangeError::New(env, "fromTypedArray: " + std::to_string(have) + " bytes given for shape of " +
                                         std::to_string(t.numel()) + " " + DtypeName(dtype) + " (" + std::to_string(need) + " bytes)");
  if (need > 0) {
    const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    std::memcpy(t.data_ptr(), src, need);
  }
  return WrapTensor(env, std::move(t));
}

// toTypedArray(h) -> Float32Array | Int32Array | Uint8Array (bool, uint8) | Float64Array | BigInt64Array. Copies.
Napi::Value ToTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor src = UnwrapTensor(info[0]);
  at::Tensor t;
  {
    c10::InferenceMode guard;
    t = src.device().is_cpu() ? src.contiguous() : src.to(at::kCPU).contiguous();
  }
  size_t n = static_cast<size_t>(t.numel());
  size_t bytes = n * t.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
    case at::kBool:
    case at::kByte: return Napi::Uint8Array::New(env, n, buf, 0);
    case at::kDouble: return Napi::Float64Array::New(env, n, buf, 0);
    case at::kLong: return Napi::TypedArrayOf<int64_t>::New(env, n, buf, 0, napi_bigint64_array);
    default: throw Napi::TypeError::New(env, std::string("toTypedArray: unsupported dtype ") + DtypeName(t.scalar_type()));
  }
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  Holder* h = HolderOf(info[0]);
  if (h == nullptr) throw Napi::TypeError::New(info.Env(), "dispose: not a tensor handle");
  bool was = h->t.defined();
  h->Release();
  return Napi::Boolean::New(info.Env(), was);
}

Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  Holder* h = HolderOf(info[0]);
  if (h == nullptr) throw Napi::TypeError::New(info.Env(), "isDisposed: not a tensor handle");
  return Napi::Boolean::New(info.Env(), !h->t.defined());
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  const at::Tensor& t = UnwrapTensor(info[0]);
  auto a = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
  return a;
}

Napi::Value Strides(const Napi::CallbackInfo& info) {
  const at::Tensor& t = UnwrapTensor(info[0]);
  auto a = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.stride(i))));
  return a;
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(UnwrapTensor(info[0]).scalar_type()));
}

Napi::Value Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), UnwrapTensor(info[0]).device().str());
}

// meta(h) -> [dtype, ...shape] in one call (the backend reads both for every kernel output).
Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = UnwrapTensor(info[0]);
  auto a = Napi::Array::New(env, t.dim() + 1);
  a.Set(0u, Napi::String::New(env, DtypeName(t.scalar_type())));
  for (int64_t i = 0; i < t.dim(); ++i) a.Set(static_cast<uint32_t>(i + 1), Napi::Number::New(env, static_cast<double>(t.size(i))));
  return a;
}

Napi::Value Live(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("count", Napi::Number::New(info.Env(), static_cast<double>(g_live.load())));
  o.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(g_bytes.load())));
  return o;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("fromTypedArray", Napi::Function::New(env, FromTypedArray, "fromTypedArray"));
  exports.Set("toTypedArray", Napi::Function::New(env, ToTypedArray, "toTypedArray"));
  exports.Set("dispose", Napi::Function::New(env, Dispose, "dispose"));
  exports.Set("isDisposed", Napi::Function::New(env, IsDisposed, "isDisposed"));
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
  exports.Set("strides", Napi::Function::New(env, Strides, "strides"));
  exports.Set("dtype", Napi::Function::New(env, Dtype, "dtype"));
  exports.Set("meta", Napi::Function::New(env, Meta, "meta"));
  exports.Set("device", Napi::Function::New(env, Device, "device"));
  exports.Set("liveTensors", Napi::Function::New(env, Live, "liveTensors"));
}
}  // namespace

std::optional<at::ScalarType> DtypeFromName(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "int32") return at::kInt;
  if (name == "bool") return at::kBool;
  if (name == "float64") return at::kDouble;
  if (name == "int64") return at::kLong;
  if (name == "uint8") return at::kByte;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  return std::nullopt;
}

bool IsTensorHandle(const Napi::Value& v) { return HolderOf(v) != nullptr; }

at::Tensor& UnwrapTensor(const Napi::Value& v) {
  Holder* h = HolderOf(v);
  if (h == nullptr) throw Napi::TypeError::New(v.Env(), "repae native: expected a torch tensor handle");
  if (!h->t.defined()) throw Napi::TypeError::New(v.Env(), "repae native: tensor handle was disposed");
  return h->t;
}

Napi::Value WrapTensor(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto ext = Napi::External<Holder>::New(env, new Holder(std::move(t)), [](Napi::Env, Holder* h) { delete h; });
  ext.TypeTag(&kTensorTag);
  return ext;
}

REPAE_REGISTER_PART("tensor", Init);
}  // namespace repae
