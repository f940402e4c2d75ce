// Guest RAM that can be handed back to the host, page by page.
//
// JavaScript cannot madvise a SharedArrayBuffer, and `new SharedArrayBuffer(n)` does not
// start on a page boundary (its data sits behind malloc's chunk header), so a balloon
// could never free a single 4 KiB guest page of it. This addon maps the RAM itself with
// mmap (page-aligned, lazily populated, no swap reservation) and wraps the mapping in a
// SharedArrayBuffer whose deleter unmaps it; worker threads share it by postMessage like
// any SharedArrayBuffer. `discard` madvises a range MADV_DONTNEED: the host frees the
// pages at once and the guest reads zeros there next time.
//
//   alloc(bytes) -> SharedArrayBuffer          (bytes: a positive multiple of the page size)
//   discard(sab, offset, length) -> undefined  (page-aligned range inside the buffer)
//   pageSize() -> number                       (the host's page size)
//   isPageAligned(sab) -> boolean              (the buffer's data starts on a host page)
//
// Bad arguments throw a RangeError or TypeError; nothing is changed then.
#include <dlfcn.h>
#include <node.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

namespace {

using v8::ArrayBuffer;
using v8::BackingStore;
using v8::Boolean;
using v8::Exception;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::String;
using v8::Value;

// Largest mapping we agree to make: far above any guest this project runs, and it keeps
// lengths exact as JavaScript numbers.
constexpr double kMaxBytes = 64.0 * 1024 * 1024 * 1024;

size_t HostPage() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

void Throw(Isolate* isolate, bool range, const char* message) {
  Local<String> text = String::NewFromUtf8(isolate, message).ToLocalChecked();
  isolate->ThrowException(range ? Exception::RangeError(text) : Exception::TypeError(text));
}

// A non-negative whole number that fits a size_t exactly, or false.
bool ToSize(Local<Value> v, size_t* out) {
  if (!v->IsNumber()) return false;
  double d = v.As<Number>()->Value();
  if (!(d >= 0) || d > kMaxBytes || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  *out = static_cast<size_t>(d);
  return true;
}

void Unmap(void* data, size_t length, void*) {
  if (data != nullptr && length > 0) munmap(data, length);
}

void Alloc(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  size_t bytes = 0;
  if (args.Length() < 1 || !ToSize(args[0], &bytes) || bytes == 0 || bytes % HostPage() != 0) {
    Throw(isolate, true, "guest-ram alloc: size must be a positive multiple of the host page size");
    return;
  }
  // NORESERVE: RAM the guest never touches costs nothing, and is not counted against
  // overcommit up front (as QEMU's guest RAM is not).
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    Throw(isolate, true, "guest-ram alloc: mmap failed (out of address space or memory)");
    return;
  }
  std::unique_ptr<BackingStore> store = SharedArrayBuffer::NewBackingStore(p, bytes, Unmap, nullptr);
  args.GetReturnValue().Set(SharedArrayBuffer::New(isolate, std::move(store)));
}

void Discard(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 3 || !args[0]->IsSharedArrayBuffer()) {
    Throw(isolate, false, "guest-ram discard: expected (SharedArrayBuffer, offset, length)");
    return;
  }
  std::shared_ptr<BackingStore> store = args[0].As<SharedArrayBuffer>()->GetBackingStore();
  const size_t page = HostPage();
  auto base = reinterpret_cast<uintptr_t>(store->Data());
  size_t offset = 0, length = 0;
  if (!ToSize(args[1], &offset) || !ToSize(args[2], &length)) {
    Throw(isolate, true, "guest-ram discard: offset and length must be whole non-negative numbers");
    return;
  }
  if (base % page != 0 || offset % page != 0 || length % page != 0) {
    Throw(isolate, true, "guest-ram discard: buffer, offset and length must be page-aligned");
    return;
  }
  if (offset > store->ByteLength() || length > store->ByteLength() - offset) {
    Throw(isolate, true, "guest-ram discard: range outside the buffer");
    return;
  }
  if (length == 0) return;
  if (madvise(reinterpret_cast<void*>(base + offset), length, MADV_DONTNEED) != 0) {
    Throw(isolate, true, "guest-ram discard: madvise failed");
  }
}

void PageSize(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(Number::New(args.GetIsolate(), static_cast<double>(HostPage())));
}

void IsPageAligned(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  bool aligned = false;
  if (args.Length() >= 1 && args[0]->IsSharedArrayBuffer()) {
    auto base = reinterpret_cast<uintptr_t>(args[0].As<SharedArrayBuffer>()->GetBackingStore()->Data());
    aligned = base % HostPage() == 0;
  }
  args.GetReturnValue().Set(Boolean::New(isolate, aligned));
}

// Node unloads an addon when the worker thread that loaded it exits, but a buffer it
// allocated can outlive that thread (the RAM is shared by every vCPU thread), and its
// deleter is code in this library: pin the library so the deleter is always there.
void PinLibrary() {
  static bool pinned = false;
  if (pinned) return;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&Unmap), &info) != 0 && info.dli_fname != nullptr) {
    pinned = dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) != nullptr;
  }
}

void Init(Local<Object> exports, Local<Value>, void*) {
  PinLibrary();
  NODE_SET_METHOD(exports, "alloc", Alloc);
  NODE_SET_METHOD(exports, "discard", Discard);
  NODE_SET_METHOD(exports, "pageSize", PageSize);
  NODE_SET_METHOD(exports, "isPageAligned", IsPageAligned);
}

}  // namespace

// NODE_MODULE_INIT, not NODE_MODULE_CONTEXT_AWARE alone: it also exports the initializer
// by its well-known name. The library is pinned (above), so a second worker's load finds
// it already mapped and its static registration does not run again; Node then looks the
// initializer up by that name. Without it every VM after the first in a process fell back
// to zero-fill ("Module did not self-register") and its balloon gave nothing back.
NODE_MODULE_INIT(/* exports, module, context */) {
  Init(exports, module, nullptr);
}
