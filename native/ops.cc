// repae native addon part "ops": one generic entry that calls any ATen operator by name through the
// boxed dispatcher. JS resolves an operator once (`findOp("aten::conv2d", "")` -> id) and calls it
// with positional arguments (`call(id, [x, w, null, [1, 1], ...])`), converted to IValues by the
// operator's schema: tensors (handles), ints, floats, bools, Scalars, int/float/bool lists, tensor
// lists, optionals (null/undefined = None), ScalarType (dtype strings), strings. Missing trailing
// arguments take the schema defaults. Results: tensor handles, arrays for tuples/lists, numbers.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "registry.h"
#include "tensor.h"

namespace repae {
namespace {
std::string OpName(const c10::OperatorHandle& op);

// Names an argument for error messages; the string is built only when an error is thrown.
struct Where {
  const c10::OperatorHandle* op;
  const c10::Argument* arg;
  operator std::string() const { return OpName(*op) + " argument '" + arg->name() + "'"; }
};
std::string operator+(const Where& w, const char* s) { return std::string(w) + s; }
std::string operator+(const Where& w, const std::string& s) { return std::string(w) + s; }

std::vector<c10::OperatorHandle>& Ops() {
  static std::vector<c10::OperatorHandle> ops;
  return ops;
}

at::ScalarType ParseScalarType(Napi::Env env, const Napi::Value& v, const Where& where) {
  if (v.IsNumber()) return static_cast<at::ScalarType>(v.As<Napi::Number>().Int32Value());
  if (v.IsString())
    if (auto d = DtypeFromName(v.As<Napi::String>().Utf8Value())) return *d;
  throw Napi::TypeError::New(env, where + ": expected a dtype string (float32, int32, bool, float64, int64, uint8, float16, bfloat16)");
}

c10::Scalar ToScalar(Napi::Env env, const Napi::Value& v, const Where& where) {
  if (v.IsNumber()) return c10::Scalar(v.As<Napi::Number>().DoubleValue());
  if (v.IsBigInt()) {
    bool lossless;
    return c10::Scalar(static_cast<int64_t>(v.As<Napi::BigInt>().Int64Value(&lossless)));
  }
  if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
  throw Napi::TypeError::New(env, where + ": expected a number (double), bigint (int) or boolean Scalar");
}

int64_t ToInt(Napi::Env env, const Napi::Value& v, const Where& where) {
  if (v.IsNumber()) return v.As<Napi::Number>().Int64Value();
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  throw Napi::TypeError::New(env, where + ": expected an integer");
}

c10::IValue ToIValue(Napi::Env env, const Napi::Value& v, const c10::TypePtr& type, const c10::TypePtr& real, const Where& where) {
  using c10::TypeKind;
  switch (type->kind()) {
    case TypeKind::OptionalType: {
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      auto elem = type->castRaw<c10::OptionalType>()->getElementType();
      auto relem = real->kind() == TypeKind::OptionalType ? real->castRaw<c10::OptionalType>()->getElementType() : elem;
      return ToIValue(env, v, elem, relem, where);
    }
    case TypeKind::TensorType:
      if (!IsTensorHandle(v)) throw Napi::TypeError::New(env, where + ": expected a tensor handle");
      return c10::IValue(UnwrapTensor(v));
    case TypeKind::IntType:
    case TypeKind::SymIntType:
      if (real->kind() == TypeKind::ScalarTypeType) return c10::IValue(static_cast<int64_t>(ParseScalarType(env, v, where)));
      return c10::IValue(ToInt(env, v, where));
    case TypeKind::FloatType:
      if (!v.IsNumber()) throw Napi::TypeError::New(env, where + ": expected a number");
      return c10::IValue(v.As<Napi::Number>().DoubleValue());
    case TypeKind::BoolType:
      if (!v.IsBoolean()) throw Napi::TypeError::New(env, where + ": expected a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case TypeKind::NumberType:
      return c10::IValue(ToScalar(env, v, where));
    case TypeKind::StringType:
      if (!v.IsString()) throw Napi::TypeError::New(env, where + ": expected a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case TypeKind::DeviceObjType:
      if (!v.IsString()) throw Napi::TypeError::New(env, where + ": expected a device string ('cpu', 'cuda:0')");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case TypeKind::ListType: {
      auto elem = type->castRaw<c10::ListType>()->getElementType();
      Napi::Array a;
      if (v.IsArray()) {
        a = v.As<Napi::Array>();
      } else if (v.IsNumber() && (elem->kind() == TypeKind::IntType || elem->kind() == TypeKind::SymIntType)) {
        // int[N] accepts a single int (broadcast), as in Python.
        return c10::IValue(c10::List<int64_t>({v.As<Napi::Number>().Int64Value()}));
      } else {
        throw Napi::TypeError::New(env, where + ": expected an array");
      }
      uint32_t n = a.Length();
      switch (elem->kind()) {
        case TypeKind::IntType:
        case TypeKind::SymIntType: {
          c10::List<int64_t> l;
          l.reserve(n);
          for (uint32_t i = 0; i < n; ++i) l.push_back(ToInt(env, a.Get(i), where));
          return c10::IValue(std::move(l));
        }
        case TypeKind::FloatType: {
          c10::List<double> l;
          l.reserve(n);
          for (uint32_t i = 0; i < n; ++i) l.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
          return c10::IValue(std::move(l));
        }
        case TypeKind::BoolType: {
          c10::List<bool> l;
          l.reserve(n);
          for (uint32_t i = 0; i < n; ++i) l.push_back(a.Get(i).As<Napi::Boolean>().Value());
          return c10::IValue(std::move(l));
        }
        case TypeKind::TensorType: {
          c10::List<at::Tensor> l;
          l.reserve(n);
          for (uint32_t i = 0; i < n; ++i) l.push_back(UnwrapTensor(a.Get(i)));
          return c10::IValue(std::move(l));
        }
        case TypeKind::OptionalType: {
          c10::List<c10::optional<at::Tensor>> l;
          l.reserve(n);
          for (uint32_t i = 0; i < n; ++i) {
            Napi::Value e = a.Get(i);
            if (e.IsNull() || e.IsUndefined()) l.push_back(c10::nullopt);
            else l.push_back(UnwrapTensor(e));
          }
          return c10::IValue(std::move(l));
        }
        default:
          break;
      }
      throw Napi::TypeError::New(env, where + ": unsupported list type " + type->str());
    }
    default:
      break;
  }
  throw Napi::TypeError::New(env, where + ": unsupported argument type " + type->str());
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return WrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isTensorList()) {
    auto l = v.toTensorList();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); ++i) a.Set(static_cast<uint32_t>(i), WrapTensor(env, l.get(i)));
    return a;
  }
  if (v.isTuple()) {
    const auto& el = v.toTupleRef().elements();
    auto a = Napi::Array::New(env, el.size());
    for (size_t i = 0; i < el.size(); ++i) a.Set(static_cast<uint32_t>(i), FromIValue(env, el[i]));
    return a;
  }
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isIntList()) {
    auto l = v.toIntList();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(l.get(i))));
    return a;
  }
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  throw Napi::TypeError::New(env, "repae native: unsupported return type " + v.tagKind());
}

std::string OpName(const c10::OperatorHandle& op) {
  const auto& n = op.operator_name();
  return n.overload_name.empty() ? n.name : n.name + "." + n.overload_name;
}

// findOp(name: string, overload: string) -> id
Napi::Value FindOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto h = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!h.has_value()) throw Napi::Error::New(env, "repae native: no ATen operator " + name + (overload.empty() ? "" : "." + overload) + " in this libtorch");
  Ops().push_back(*h);
  return Napi::Number::New(env, static_cast<double>(Ops().size() - 1));
}

Napi::Value Schema(const Napi::CallbackInfo& info) {
  auto id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= Ops().size()) throw Napi::RangeError::New(info.Env(), "schema: unknown op id");
  std::ostringstream os;
  os << Ops()[id].schema();
  return Napi::String::New(info.Env(), os.str());
}

// call(id: number, args: unknown[]) -> result
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  if (id >= Ops().size()) throw Napi::RangeError::New(env, "call: unknown op id");
  const c10::OperatorHandle& op = Ops()[id];
  const auto& schema = op.schema();
  const auto& formals = schema.arguments();
  Napi::Array args = info.Length() > 1 && info[1].IsArray() ? info[1].As<Napi::Array>() : Napi::Array::New(env, 0);
  uint32_t n = args.Length();
  if (n > formals.size())
    throw Napi::TypeError::New(env, OpName(op) + ": " + std::to_string(n) + " arguments given, schema takes " + std::to_string(formals.size()));
  torch::jit::Stack stack;
  stack.reserve(formals.size());
  for (size_t i = 0; i < formals.size(); ++i) {
    const auto& f = formals[i];
    if (i < n) {
      Napi::Value v = args.Get(static_cast<uint32_t>(i));
      if (!v.IsUndefined() || !f.default_value().has_value()) {
        stack.emplace_back(ToIValue(env, v, f.type(), f.real_type(), Where{&op, &f}));
        continue;
      }
    }
    if (!f.default_value().has_value()) throw Napi::TypeError::New(env, OpName(op) + ": missing argument '" + f.name() + "'");
    stack.emplace_back(*f.default_value());
  }
  try {
    c10::InferenceMode guard;
    op.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, OpName(op) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, OpName(op) + ": " + e.what());
  }
  if (stack.size() == 1) return FromIValue(env, stack[0]);
  auto a = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) a.Set(static_cast<uint32_t>(i), FromIValue(env, stack[i]));
  return a;
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("findOp", Napi::Function::New(env, FindOp, "findOp"));
  exports.Set("schema", Napi::Function::New(env, Schema, "schema"));
  exports.Set("call", Napi::Function::New(env, Call, "call"));
}
}  // namespace

REPAE_REGISTER_PART("ops", Init);
}  // namespace repae
