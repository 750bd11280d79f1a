// A watchdog for test_gpu, which has hung on a freshly started GPU machine (GpuParity.Attention,
// twice in one session, never on a warm one) where no debugger is installed. When one test runs
// longer than ALLOY_TEST_HANG_SECONDS (default 240, under tests/run_gpu.sh's 300 s limit), it
// prints the test, every thread's state and kernel wait channel, and every thread's stack
// (glibc backtrace, frames named by addr2line where it is installed), then aborts.
#include <dlfcn.h>
#include <execinfo.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace {

// The stack of the thread that got SIGUSR1, written by that thread.
void* g_frames[64];
std::atomic<int> g_frame_count{-1};

void capture_stack(int) { g_frame_count.store(backtrace(g_frames, 64)); }

// Frames in test_gpu itself are named by addr2line (most are lambdas or in anonymous namespaces,
// which the exported symbols do not cover); others by glibc.
void print_stack(void* const* frames, int n) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();  // not the shell's
  char** names = backtrace_symbols(frames, n);
  for (int i = 0; i < n; ++i) {
    Dl_info info{};
    std::string line = names ? names[i] : "?";
    if (dladdr(frames[i], &info) && info.dli_fbase && std::string(info.dli_fname).find("test_gpu") != std::string::npos) {
      // The return address minus one: the call instruction's line, not the next one's.
      char cmd[4352];
      std::snprintf(cmd, sizeof cmd, "addr2line -f -C -e '%s' 0x%zx 2>/dev/null", exe.c_str(),
                    size_t(static_cast<char*>(frames[i]) - static_cast<char*>(info.dli_fbase)) - 1);
      if (FILE* p = popen(cmd, "r")) {
        char fn[1024] = {};
        if (std::fgets(fn, sizeof fn, p) && fn[0] != '?') line = fn, line.pop_back();
        pclose(p);
      }
    }
    std::fprintf(stderr, "    %s\n", line.c_str());
  }
  std::free(names);
}

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

void dump_threads(const std::string& test, int seconds) {
  std::fprintf(stderr, "\n[hang watchdog] %s has run for %d s; threads:\n", test.c_str(), seconds);
  const pid_t self = pid_t(syscall(SYS_gettid));
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    const std::string dir = task.path().string();
    const pid_t tid = pid_t(std::stol(task.path().filename().string()));
    std::string stat = first_line(dir + "/stat");
    size_t close = stat.rfind(')');
    const char state = close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
    std::fprintf(stderr, "[hang watchdog] thread %d (%s) state %c wchan %s\n", int(tid),
                 first_line(dir + "/comm").c_str(), state, first_line(dir + "/wchan").c_str());
    if (tid == self) continue;
    g_frame_count.store(-1);
    if (syscall(SYS_tgkill, getpid(), tid, SIGUSR1) != 0) continue;
    for (int i = 0; i < 100 && g_frame_count.load() < 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (g_frame_count.load() > 0) print_stack(g_frames, g_frame_count.load());
  }
  std::fflush(stderr);
}

// What the watching thread reads. Never freed: gtest deletes its listeners at exit, while the
// detached thread may still be running (a slow exit read a freed listener and fired the
// watchdog on a process that ran no test).
struct WatchState {
  int limit = 240;
  std::mutex mutex;
  std::string test;
  std::chrono::steady_clock::time_point started;
  bool running = false;
};

void watch(WatchState& s) {
  while (true) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::string test;
    int seconds = 0;
    {
      std::lock_guard lk(s.mutex);
      if (!s.running) continue;
      seconds = int(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - s.started).count());
      if (seconds < s.limit) continue;
      test = s.test;
    }
    dump_threads(test, seconds);
    std::fprintf(stderr, "[hang watchdog] aborting\n");
    std::abort();
  }
}

class HangWatchdog : public testing::EmptyTestEventListener {
 public:
  HangWatchdog() : state_(new WatchState) {
    const char* env = std::getenv("ALLOY_TEST_HANG_SECONDS");
    if (env && std::atoi(env) > 0) state_->limit = std::atoi(env);
    void* warm[1];
    backtrace(warm, 1);  // loads libgcc now, not inside the signal handler
    struct sigaction sa {};
    sa.sa_handler = capture_stack;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    std::thread([s = state_] { watch(*s); }).detach();
  }

  void OnTestStart(const testing::TestInfo& info) override {
    std::lock_guard lk(state_->mutex);
    state_->test = std::string(info.test_suite_name()) + "." + info.name();
    state_->started = std::chrono::steady_clock::now();
    state_->running = true;
  }
  void OnTestEnd(const testing::TestInfo&) override {
    std::lock_guard lk(state_->mutex);
    state_->running = false;
  }

 private:
  WatchState* state_;  // leaked on purpose (above)
};

// Registered before gtest_main's main runs the tests; gtest owns the listener.
const bool g_registered = [] {
  testing::UnitTest::GetInstance()->listeners().Append(new HangWatchdog);
  return true;
}();

}  // namespace
