// Internal to libs/eval: a parallel loop over index ranges on short-lived threads.
#ifndef FLSAILER_LIBS_EVAL_PARALLEL_H_
#define FLSAILER_LIBS_EVAL_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace flsailer::eval::internal {

// Calls fn(begin, end) for consecutive chunks of [0, n) of at most `grain` indices, on up to
// `threads` threads (the calling thread is one of them). Chunks are claimed dynamically, so `fn`
// must make its result independent of which thread runs a chunk (write only to outputs owned by
// the chunk's indices); then results do not depend on `threads`. If the system refuses to start a
// thread, the threads already running finish the work.
template <typename Fn>
void ParallelFor(int64_t n, int64_t grain, int threads, const Fn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  const int workers = static_cast<int>(std::clamp<int64_t>(threads, 1, chunks));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
      fn(c * grain, std::min(n, (c + 1) * grain));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;
    }
  }
  work();
  for (std::thread& thread : pool) thread.join();
}

}  // namespace flsailer::eval::internal

#endif  // FLSAILER_LIBS_EVAL_PARALLEL_H_
