// repae native addon part "collective": data-parallel collectives on libtorch's c10d.
//
// A process group is a c10d::TCPStore rendezvous (rank 0 hosts the server) plus a
// c10d::ProcessGroupGloo (CPU, TCP) or, when the addon is built against CUDA (REPAE_WITH_CUDA), a
// c10d::ProcessGroupNCCL. Every collective algorithm is c10d's / Gloo's; this file only binds them:
//   create(opts) -> Promise<group>; allReduce(group, buffers, 'sum'|'mean', sync) ;
//   broadcast(group, buffers, root, sync); barrier(group, sync); destroy(group); info(group).
// Buffers are Float32Arrays (wrapped with at::from_blob, no copy) or torch tensor handles of the
// "tensor" part (the at::Tensor itself, no copy). `sync = false` runs the blocking wait on a libuv
// worker thread and returns a promise; `sync = true` blocks the JS thread (bounded by the group's
// timeout) for callers that are themselves synchronous (a gradient hook inside a pure step).
//
// Peer loss: every rank increments a heartbeat counter in the store (its own client connection)
// every kHeartbeatMs. When a collective fails, the error names the ranks whose counter stopped (or
// rank 0 when the store it hosts is gone), else the rank and the timeout.
#include <napi.h>

#include "registry.h"

#if !__has_include(<gloo/algorithm.h>)
// Without Gloo's headers (Debian: libgloo-dev) c10d's ProcessGroupGloo cannot be compiled: the part
// still registers, and says why, so the rest of the addon builds and the TS layer reports it.
namespace repae {
namespace {
void InitUnavailable(Napi::Env env, Napi::Object exports) {
  auto c = Napi::Object::New(env);
  c.Set("unavailable", Napi::String::New(env, "the addon was built without Gloo's headers (Debian: apt-get install libgloo-dev, then npm run build:native)"));
  exports.Set("collective", c);
}
}  // namespace
}  // namespace repae
REPAE_REGISTER_PART("collective", repae::InitUnavailable);
#else
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef REPAE_WITH_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if __has_include("tensor.h")
#include "tensor.h"
#define REPAE_COLLECTIVE_TORCH_TENSORS 1
#endif

namespace repae {
namespace {

constexpr int kHeartbeatMs = 200;
constexpr napi_type_tag kGroupTag = {0x7265706165636f6cULL, 0x6c65637469766531ULL};

std::string Str(int v) { return std::to_string(v); }

struct Group {
  int rank = 0;
  int size = 1;
  std::string addr;
  int port = 0;
  std::string backend;
  bool hostsStore = true;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::TCPStore> store;    // rendezvous (used by the process group)
  c10::intrusive_ptr<c10d::TCPStore> hbStore;  // heartbeats and diagnosis (own connection)
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::mutex opMu;  // one collective at a time, in issue order
  std::mutex hbMu;  // hbStore is used by the heartbeat thread and by diagnosis
  std::thread hb;
  std::atomic<bool> stop{false};
  std::atomic<bool> destroyed{false};

  void StopHeartbeat() {
    stop.store(true);
    if (hb.joinable()) hb.join();
  }
  void Destroy() {
    if (destroyed.exchange(true)) return;
    StopHeartbeat();
    std::lock_guard<std::mutex> lk(opMu);
    pg.reset();
    hbStore.reset();
    store.reset();
  }
  ~Group() { Destroy(); }

  std::string Where() const {
    return "rank " + Str(rank) + " of " + Str(size) + " (" + backend + ", store " + addr + ":" + Str(port) + ")";
  }

  // Which peers stopped beating (sampled over ~6 heartbeat periods), as a sentence.
  std::string Diagnose() {
    if (size <= 1) return "";
    auto read = [&](std::vector<int64_t>& out) -> bool {
      std::lock_guard<std::mutex> lk(hbMu);
      if (!hbStore) return false;
      try {
        out.assign(size, 0);
        for (int r = 0; r < size; ++r) out[r] = hbStore->add("repae/hb/" + Str(r), 0);
        return true;
      } catch (const std::exception&) {
        return false;
      }
    };
    std::vector<int64_t> a, b;
    if (!read(a)) return rank == 0 && hostsStore ? "" : hostsStore ? "lost rank 0: the rendezvous store it hosts at " + addr + ":" + Str(port) + " is unreachable" : "the rendezvous store at " + addr + ":" + Str(port) + " (torchrun's agent) is unreachable";
    std::this_thread::sleep_for(std::chrono::milliseconds(6 * kHeartbeatMs));
    if (!read(b)) return rank == 0 && hostsStore ? "" : hostsStore ? "lost rank 0: the rendezvous store it hosts at " + addr + ":" + Str(port) + " is unreachable" : "the rendezvous store at " + addr + ":" + Str(port) + " (torchrun's agent) is unreachable";
    std::vector<int> lost;
    for (int r = 0; r < size; ++r)
      if (r != rank && b[r] == a[r]) lost.push_back(r);
    if (lost.empty()) return "";
    std::string s = lost.size() == 1 ? "lost rank " : "lost ranks ";
    for (size_t i = 0; i < lost.size(); ++i) s += (i ? ", " : "") + Str(lost[i]);
    return s + " (no heartbeat for " + Str(6 * kHeartbeatMs) + " ms)";
  }
};

std::mutex g_liveMu;
std::set<Group*> g_live;  // groups whose heartbeat may still run (stopped at exit)

void StopAllAtExit() {
  std::lock_guard<std::mutex> lk(g_liveMu);
  for (Group* g : g_live) g->StopHeartbeat();
}

std::string Clean(const std::string& what) {
  // c10::Error messages carry a C++ backtrace after the first line ("Exception raised from ...").
  std::string s = what;
  auto p = s.find("\nException raised from");
  if (p != std::string::npos) s = s.substr(0, p);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A failed collective as one message: the operation, the rank, the lost peer when known, c10d's words.
std::string Failure(Group& g, const std::string& op, const std::string& what) {
  std::string lost = g.Diagnose();
  std::ostringstream os;
  os << "collective " << op << " failed on " << g.Where() << ": ";
  if (!lost.empty()) os << lost << "; ";
  else os << "no peer named as lost (timeout " << g.timeout.count() << " ms); ";
  os << "c10d: " << Clean(what);
  return os.str();
}

std::shared_ptr<Group> GroupOf(const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(v.Env(), "collective: expected a process group handle");
  auto ext = v.As<Napi::External<std::shared_ptr<Group>>>();
  if (!ext.CheckTypeTag(&kGroupTag)) throw Napi::TypeError::New(v.Env(), "collective: expected a process group handle");
  auto g = *ext.Data();
  if (g->destroyed.load()) throw Napi::Error::New(v.Env(), "collective: the process group was destroyed (close() was called)");
  return g;
}

// --- buffers: Float32Array (from_blob, no copy) or torch tensor handles (no copy)
struct Buffers {
  std::vector<at::Tensor> tensors;
  std::vector<Napi::ObjectReference> keep;  // keeps the JS arrays alive during async work
};

Buffers ParseBuffers(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string("collective.") + what + ": expected an array of Float32Array or torch tensors");
  auto arr = v.As<Napi::Array>();
  Buffers b;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (e.IsTypedArray() && e.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
      auto f = e.As<Napi::Float32Array>();
      b.tensors.push_back(at::from_blob(f.Data(), {static_cast<int64_t>(f.ElementLength())}, at::TensorOptions().dtype(at::kFloat)));
      b.keep.push_back(Napi::Persistent(e.As<Napi::Object>()));
      continue;
    }
#ifdef REPAE_COLLECTIVE_TORCH_TENSORS
    if (IsTensorHandle(e)) {
      at::Tensor& t = UnwrapTensor(e);
      if (!t.is_contiguous()) throw Napi::TypeError::New(env, std::string("collective.") + what + ": buffer " + Str(i) + " is a non-contiguous torch tensor");
      b.tensors.push_back(t);
      b.keep.push_back(Napi::Persistent(e.As<Napi::Object>()));
      continue;
    }
#endif
    throw Napi::TypeError::New(env, std::string("collective.") + what + ": buffer " + Str(i) + " is neither a Float32Array nor a torch tensor handle");
  }
  return b;
}

// --- the operations (run on whichever thread; throw std::runtime_error with a full message)
enum class Op { kSum, kMean };

void DoAllReduce(Group& g, std::vector<at::Tensor>& ts, Op op) {
  std::lock_guard<std::mutex> lk(g.opMu);
  if (!g.pg) throw std::runtime_error("collective allReduce: the process group was destroyed");
  if (ts.empty()) return;
  try {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.timeout = g.timeout;
    // One tensor: allreduce. Several of different sizes: c10d's coalesced allreduce (one flat
    // bucket inside Gloo, as DDP's reducer does). Per tensor (in place, no bucket copy) for NCCL,
    // which has no coalesced variant in 1.13, and for inference tensors (the tensor part's handles),
    // which the coalesced copy-back on Gloo's worker thread may not write.
    bool inference = false;
    for (auto& t : ts) inference = inference || t.is_inference();
    if (ts.size() == 1 || g.backend == "nccl" || inference) {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      for (auto& t : ts) {
        std::vector<at::Tensor> one{t};
        works.push_back(g.pg->allreduce(one, o));
      }
      for (auto& w : works) w->wait();
    } else {
      c10d::AllreduceCoalescedOptions oc;
      oc.reduceOp = c10d::ReduceOp::SUM;
      oc.timeout = g.timeout;
      g.pg->allreduce_coalesced(ts, oc)->wait();
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(Failure(g, "allReduce", e.what()));
  }
  if (op == Op::kMean) {
    c10::InferenceMode guard;  // torch handles of the tensor part are inference tensors
    for (auto& t : ts) t.div_(static_cast<double>(g.size));
  }
}

void DoBroadcast(Group& g, std::vector<at::Tensor>& ts, int root) {
  std::lock_guard<std::mutex> lk(g.opMu);
  if (!g.pg) throw std::runtime_error("collective broadcast: the process group was destroyed");
  try {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = g.timeout;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& t : ts) {
      std::vector<at::Tensor> one{t};
      works.push_back(g.pg->broadcast(one, o));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error(Failure(g, "broadcast from rank " + Str(root), e.what()));
  }
}

void DoBarrier(Group& g) {
  std::lock_guard<std::mutex> lk(g.opMu);
  if (!g.pg) throw std::runtime_error("collective barrier: the process group was destroyed");
  try {
    c10d::BarrierOptions o;
    o.timeout = g.timeout;
    g.pg->barrier(o)->wait();
  } catch (const std::exception& e) {
    throw std::runtime_error(Failure(g, "barrier", e.what()));
  }
}

std::shared_ptr<::gloo::transport::Device> GlooDevice(const std::string& addr, const std::string& iface) {
  if (!iface.empty()) return c10d::ProcessGroupGloo::createDeviceForInterface(iface);
  if (const char* env = std::getenv("GLOO_SOCKET_IFNAME"); env != nullptr && *env != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(env);
  if (addr == "127.0.0.1" || addr == "localhost") return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

struct CreateArgs {
  int rank = 0, size = 1, port = 29500;
  int64_t timeoutMs = 30000;
  std::string addr = "127.0.0.1", backend = "gloo", iface;
  bool hostStore = true;  // rank 0 hosts the TCPStore; false under torchrun's agent store
};

std::shared_ptr<Group> DoCreate(const CreateArgs& a) {
  auto g = std::make_shared<Group>();
  g->rank = a.rank;
  g->size = a.size;
  g->addr = a.addr;
  g->port = a.port;
  g->backend = a.backend;
  g->hostsStore = a.hostStore;
  g->timeout = std::chrono::milliseconds(a.timeoutMs);
  const std::string where = g->Where();
  // 1. Store: rank 0 hosts the server; nobody waits for the others here (the process group's
  //    rendezvous does, with the timeout), so a missing rank can be named afterwards.
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(a.port);
    so.isServer = a.rank == 0 && a.hostStore;
    so.numWorkers = a.size;
    so.waitWorkers = false;
    so.timeout = g->timeout;
    g->store = c10::make_intrusive<c10d::TCPStore>(a.addr, so);
    so.isServer = false;
    g->hbStore = c10::make_intrusive<c10d::TCPStore>(a.addr, so);
    g->hbStore->set("repae/arrived/" + Str(a.rank), std::vector<uint8_t>{1});
    g->hbStore->add("repae/hb/" + Str(a.rank), 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("collective rendezvous failed on " + where + ": " +
                             (a.rank == 0 ? "could not host the store (is the port in use?)" : "could not reach the store hosted by rank 0 within " + Str(static_cast<int>(a.timeoutMs)) + " ms") +
                             "; c10d: " + Clean(e.what()));
  }
  // 2. Heartbeat.
  g->hb = std::thread([gp = g.get()] {
    int64_t ticks = 0;
    while (!gp->stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kHeartbeatMs / 4));
      if (++ticks % 4 != 0) continue;
      std::lock_guard<std::mutex> lk(gp->hbMu);
      try {
        if (gp->hbStore) gp->hbStore->add("repae/hb/" + Str(gp->rank), 1);
      } catch (const std::exception&) {
        // The store is gone (rank 0 exited or died): diagnosis reports it; keep quiet here.
      }
    }
  });
  {
    std::lock_guard<std::mutex> lk(g_liveMu);
    g_live.insert(g.get());
  }
  // 3. Process group (its constructor runs the rendezvous through the store).
  try {
    if (a.backend == "gloo") {
      auto o = c10d::ProcessGroupGloo::Options::create(g->timeout);
      o->devices.push_back(GlooDevice(a.addr, a.iface));
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("repae/pg", g->store), a.rank, a.size, o);
    } else if (a.backend == "nccl") {
#ifdef REPAE_WITH_CUDA
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = g->timeout;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("repae/pg", g->store), a.rank, a.size, o);
#else
      throw std::runtime_error("backend 'nccl' needs the addon built against a CUDA libtorch (LIBTORCH=<cuda libtorch> npm run build:native); this build has gloo only");
#endif
    } else {
      throw std::runtime_error("unknown backend '" + a.backend + "' (gloo or nccl)");
    }
  } catch (const std::exception& e) {
    std::string missing;
    {
      std::lock_guard<std::mutex> lk(g->hbMu);
      try {
        for (int r = 0; r < a.size; ++r)
          if (!g->hbStore->check({"repae/arrived/" + Str(r)})) missing += (missing.empty() ? "" : ", ") + Str(r);
      } catch (const std::exception&) {
        missing = "?";
      }
    }
    {
      std::lock_guard<std::mutex> lk(g_liveMu);
      g_live.erase(g.get());
    }
    g->Destroy();
    std::string why = missing.empty() ? "" : missing == "?" ? "the store became unreachable (rank 0 gone); " : "rank(s) " + missing + " did not join within " + Str(static_cast<int>(a.timeoutMs)) + " ms; ";
    throw std::runtime_error("collective rendezvous failed on " + where + ": " + why + "c10d: " + Clean(e.what()));
  }
  return g;
}

Napi::Value WrapGroup(Napi::Env env, std::shared_ptr<Group> g) {
  auto ext = Napi::External<std::shared_ptr<Group>>::New(env, new std::shared_ptr<Group>(std::move(g)), [](Napi::Env, std::shared_ptr<Group>* p) {
    {
      std::lock_guard<std::mutex> lk(g_liveMu);
      g_live.erase(p->get());
    }
    delete p;
  });
  ext.TypeTag(&kGroupTag);
  return ext;
}

// --- async plumbing: a worker that runs `fn` off the JS thread and settles a promise
class Worker : public Napi::AsyncWorker {
 public:
  Worker(Napi::Env env, std::function<void()> fn, std::function<Napi::Value(Napi::Env)> ok, Buffers keep)
      : Napi::AsyncWorker(env), fn_(std::move(fn)), ok_(std::move(ok)), keep_(std::move(keep)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      fn_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(ok_(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<void()> fn_;
  std::function<Napi::Value(Napi::Env)> ok_;
  Buffers keep_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Run(Napi::Env env, bool sync, std::function<void()> fn, Buffers keep) {
  if (sync) {
    try {
      fn();
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    return env.Undefined();
  }
  auto* w = new Worker(env, std::move(fn), [](Napi::Env e) { return e.Undefined(); }, std::move(keep));
  auto p = w->Promise();
  w->Queue();
  return p;
}

int IntField(const Napi::Object& o, const char* k, int def) {
  Napi::Value v = o.Get(k);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("collective.create: option '") + k + "' must be a number");
  return v.As<Napi::Number>().Int32Value();
}
std::string StrField(const Napi::Object& o, const char* k, const std::string& def) {
  Napi::Value v = o.Get(k);
  if (v.IsUndefined()) return def;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("collective.create: option '") + k + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "collective.create: expected {rank, worldSize, masterAddr, masterPort, timeoutMs, backend}");
  auto o = info[0].As<Napi::Object>();
  CreateArgs a;
  a.rank = IntField(o, "rank", 0);
  a.size = IntField(o, "worldSize", 1);
  a.port = IntField(o, "masterPort", 29500);
  a.timeoutMs = IntField(o, "timeoutMs", 30000);
  a.addr = StrField(o, "masterAddr", "127.0.0.1");
  a.backend = StrField(o, "backend", "gloo");
  a.iface = StrField(o, "iface", "");
  a.hostStore = !o.Get("hostStore").IsBoolean() || o.Get("hostStore").As<Napi::Boolean>().Value();
  if (a.size < 1) throw Napi::RangeError::New(env, "collective.create: worldSize must be >= 1, got " + Str(a.size));
  if (a.rank < 0 || a.rank >= a.size) throw Napi::RangeError::New(env, "collective.create: rank " + Str(a.rank) + " is outside [0, " + Str(a.size) + ")");
  if (a.port < 1 || a.port > 65535) throw Napi::RangeError::New(env, "collective.create: masterPort " + Str(a.port) + " is not a TCP port");
  if (a.timeoutMs < 1) throw Napi::RangeError::New(env, "collective.create: timeoutMs must be positive");
  auto result = std::make_shared<std::shared_ptr<Group>>();
  auto* w = new Worker(env, [a, result] { *result = DoCreate(a); }, [result](Napi::Env e) { return WrapGroup(e, *result); }, Buffers{});
  auto p = w->Promise();
  w->Queue();
  return p;
}

bool SyncFlag(const Napi::CallbackInfo& info, size_t i) { return info.Length() > i && info[i].IsBoolean() && info[i].As<Napi::Boolean>().Value(); }

Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = GroupOf(info[0]);
  Buffers b = ParseBuffers(info[1], "allReduce");
  std::string op = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "sum";
  if (op != "sum" && op != "mean") throw Napi::TypeError::New(env, "collective.allReduce: op must be 'sum' or 'mean', got '" + op + "'");
  Op o = op == "mean" ? Op::kMean : Op::kSum;
  auto ts = std::make_shared<std::vector<at::Tensor>>(b.tensors);
  return Run(env, SyncFlag(info, 3), [g, ts, o] { DoAllReduce(*g, *ts, o); }, std::move(b));
}

Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = GroupOf(info[0]);
  Buffers b = ParseBuffers(info[1], "broadcast");
  int root = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
  if (root < 0 || root >= g->size) throw Napi::RangeError::New(env, "collective.broadcast: root " + Str(root) + " is outside [0, " + Str(g->size) + ")");
  auto ts = std::make_shared<std::vector<at::Tensor>>(b.tensors);
  return Run(env, SyncFlag(info, 3), [g, ts, root] { DoBroadcast(*g, *ts, root); }, std::move(b));
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  auto g = GroupOf(info[0]);
  return Run(info.Env(), SyncFlag(info, 1), [g] { DoBarrier(*g); }, Buffers{});
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) return info.Env().Undefined();
  auto ext = info[0].As<Napi::External<std::shared_ptr<Group>>>();
  if (!ext.CheckTypeTag(&kGroupTag)) return info.Env().Undefined();
  auto g = *ext.Data();
  {
    std::lock_guard<std::mutex> lk(g_liveMu);
    g_live.erase(g.get());
  }
  g->Destroy();
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto g = GroupOf(info[0]);
  auto o = Napi::Object::New(info.Env());
  o.Set("rank", g->rank);
  o.Set("worldSize", g->size);
  o.Set("backend", g->backend);
  o.Set("masterAddr", g->addr);
  o.Set("masterPort", g->port);
  o.Set("timeoutMs", static_cast<double>(g->timeout.count()));
  return o;
}

void Init(Napi::Env env, Napi::Object exports) {
  static bool once = [] { return std::atexit(StopAllAtExit) == 0; }();
  (void)once;
  auto c = Napi::Object::New(env);
  c.Set("create", Napi::Function::New(env, Create, "create"));
  c.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  c.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  c.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  c.Set("destroy", Napi::Function::New(env, Destroy, "destroy"));
  c.Set("info", Napi::Function::New(env, Info, "info"));
  auto backends = Napi::Array::New(env);
  backends.Set(0u, "gloo");
#ifdef REPAE_WITH_CUDA
  backends.Set(1u, "nccl");
#endif
  c.Set("backends", backends);
#ifdef REPAE_COLLECTIVE_TORCH_TENSORS
  c.Set("torchTensors", Napi::Boolean::New(env, true));
#else
  c.Set("torchTensors", Napi::Boolean::New(env, false));
#endif
  exports.Set("collective", c);
}

}  // namespace
}  // namespace repae

REPAE_REGISTER_PART("collective", repae::Init);
#endif  // Gloo headers
