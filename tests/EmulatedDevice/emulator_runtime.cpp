// See emulator_runtime.h. Synchronisation inside the runtime uses futexes and atomics of its own (this file is
// compiled without ThreadSanitizer), so that under TSan the only happens-before edges between CUDA threads
// are the ones CUDA defines, announced explicitly: a completed barrier orders the block, a completed warp
// function orders its lanes, and consecutive blocks are ordered (they share the emulated __shared__ memory).
#include "emulator_runtime.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <linux/futex.h>
#include <memory>
#include <sstream>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifdef ASL_EMU_TSAN
extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();
#define ASL_EMU_ACQUIRE(address) __tsan_acquire((void*)(address))
#define ASL_EMU_RELEASE(address) __tsan_release((void*)(address))
// The runtime's own bookkeeping is hidden from TSan too (library calls such as memset are intercepted even
// from uninstrumented code): only the kernel's accesses are checked.
struct RuntimeScope
{
    RuntimeScope() { __tsan_ignore_thread_begin(); }
    ~RuntimeScope() { __tsan_ignore_thread_end(); }
};
#else
#define ASL_EMU_ACQUIRE(address) ((void)0)
#define ASL_EMU_RELEASE(address) ((void)0)
struct RuntimeScope
{
    RuntimeScope() {}
};
#endif

namespace asl_emu
{
namespace
{
using Clock = std::chrono::steady_clock;

// ---- futex primitives ---------------------------------------------------------------------------------
void futex_wait(std::atomic<int>& word, int expected, double seconds)
{
    timespec timeout;
    timeout.tv_sec = (time_t)seconds;
    timeout.tv_nsec = (long)((seconds - (double)timeout.tv_sec) * 1e9);
    syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, expected, seconds >= 0 ? &timeout : nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<int>& word) { syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0); }

class Mutex
{
public:
    void lock()
    {
        int expected = 0;
        if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) return;
        if (expected != 2) expected = state_.exchange(2, std::memory_order_acquire);
        while (expected != 0)
        {
            futex_wait(state_, 2, -1);
            expected = state_.exchange(2, std::memory_order_acquire);
        }
    }
    void unlock()
    {
        if (state_.exchange(0, std::memory_order_release) == 2)
            syscall(SYS_futex, reinterpret_cast<int*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }

private:
    std::atomic<int> state_{0};   // 0 free, 1 locked, 2 locked with waiters
};

// A condition: waiters sample the sequence under the mutex, so a notify between unlock and sleep is not lost.
class Condition
{
public:
    int sample() const { return sequence_.load(std::memory_order_relaxed); }
    void wait(Mutex& mutex, int sampled, double seconds)
    {
        mutex.unlock();
        futex_wait(sequence_, sampled, seconds);
        mutex.lock();
    }
    void notify_all()
    {
        sequence_.fetch_add(1, std::memory_order_relaxed);
        futex_wake_all(sequence_);
    }

private:
    std::atomic<int> sequence_{0};
};

struct ThreadAbort {};   // unwinds a CUDA thread once its block has failed

const char* warp_function_name(int kind)
{
    switch (kind)
    {
    case ASL_EMU_SHFL: return "__shfl_sync";
    case ASL_EMU_SHFL_UP: return "__shfl_up_sync";
    case ASL_EMU_SHFL_DOWN: return "__shfl_down_sync";
    case ASL_EMU_SHFL_XOR: return "__shfl_xor_sync";
    case ASL_EMU_BALLOT: return "__ballot_sync";
    default: return "__syncwarp";
    }
}

const char* barrier_name(int kind)
{
    switch (kind)
    {
    case ASL_EMU_BARRIER_COUNT: return "__syncthreads_count";
    case ASL_EMU_BARRIER_OR: return "__syncthreads_or";
    case ASL_EMU_BARRIER_AND: return "__syncthreads_and";
    default: return "__syncthreads";
    }
}

std::string hex(unsigned v)
{
    char text[16];
    std::snprintf(text, sizeof text, "0x%08X", v);
    return text;
}

// One warp function call that some lanes have reached and others not yet.
struct PendingWarpOp
{
    unsigned mask = 0, arrived = 0;
    int kind = 0, width = 32;
    unsigned long long token_id = 0;
    unsigned long long value[32] = {};
    int argument[32] = {};
};

struct Warp
{
    unsigned lanes = 0;                      // lanes that exist (a partial last warp has fewer)
    unsigned exited = 0;
    std::vector<PendingWarpOp> pending;
    unsigned long long result[32] = {};
    unsigned done[32] = {};                  // per lane: completed warp functions, the lane waits for a change
    unsigned long long next_token = 0;
    char tokens[4] = {};                     // TSan synchronisation addresses, by operation parity
    Condition changed;
};

struct Block
{
    const AslEmuKernel* kernel = nullptr;
    std::string label;
    AslEmuDim3 index{}, grid{}, dim{};
    int threads = 0;
    Mutex mutex;
    bool failed = false;
    std::string failure;
    int exited = 0, finished = 0, blocked = 0;
    // the barrier
    int barrier_arrived = 0, barrier_kind = 0, barrier_count = 0, barrier_result = 0;
    unsigned barrier_generation = 0;
    char barrier_tokens[2] = {};
    Condition barrier_changed;
    std::vector<Warp> warps;
    Condition finished_changed;

    std::string where() const
    {
        std::ostringstream text;
        text << "kernel " << kernel->name << " (" << (label.empty() ? "no defines" : label) << "), block (" << index.x << ","
             << index.y << "," << index.z << ") of grid (" << grid.x << "," << grid.y << "," << grid.z << "), " << threads << " threads";
        return text.str();
    }

    // Records the first failure and wakes every waiting thread; called with the mutex held.
    void fail(const std::string& what)
    {
        if (!failed)
        {
            failed = true;
            failure = where() + ": " + what;
        }
        barrier_changed.notify_all();
        for (auto& w : warps) w.changed.notify_all();
        finished_changed.notify_all();
    }

    std::string waiting_report() const
    {
        std::ostringstream text;
        if (barrier_arrived > 0) text << barrier_arrived << " thread(s) wait at " << barrier_name(barrier_kind) << "; ";
        for (size_t w = 0; w < warps.size(); w++)
            for (const auto& op : warps[w].pending)
                text << "warp " << w << " lanes " << hex(op.arrived) << " wait in " << warp_function_name(op.kind) << " with mask "
                     << hex(op.mask) << " for lanes " << hex(op.mask & ~op.arrived) << "; ";
        text << exited << " thread(s) exited";
        int running = threads - blocked - finished;
        if (running > 0) text << ", " << running << " still running";
        return text.str();
    }

    // A deadlock: every thread that has not exited waits, and none of the waits can complete.
    void check_stuck()
    {
        if (!failed && blocked > 0 && blocked + exited == threads)
            fail("deadlock: not every required thread reaches the barrier or warp function (" + waiting_report() + ")");
    }

    // Waits until `done()` or failure, counting the thread as blocked; fails the block after the timeout. The
    // thread that completes a barrier or warp function uncounts the threads it releases (release_waiters), so
    // a released thread that has not run yet is never mistaken for a stuck one.
    template <typename Done> void wait(Condition& condition, Done done, const char* what)
    {
        blocked++;
        check_stuck();
        const auto deadline = Clock::now() + std::chrono::duration<double>(wait_timeout_seconds());
        while (!failed && !done())
        {
            double left = std::chrono::duration<double>(deadline - Clock::now()).count();
            if (left <= 0)
            {
                fail(std::string("timeout: a thread waited ") + std::to_string((int)wait_timeout_seconds()) + " s in " + what + " (" +
                     waiting_report() + ")");
                break;
            }
            condition.wait(mutex, condition.sample(), left);
        }
        if (!done()) blocked--;
    }

    void release_waiters(int count) { blocked -= count; }
};

struct Job
{
    Block* block = nullptr;
    AslEmuThread thread{};
    void** parameters = nullptr;
};

// A pool thread; runs one CUDA thread of each block it is handed.
class Worker
{
public:
    Worker() : thread_([this] { loop(); }) { thread_.detach(); }
    Worker(const Worker&) = delete;
    void start(const Job& job)
    {
        job_ = job;
        go_.fetch_add(1, std::memory_order_release);
        futex_wake_all(go_);
    }

private:
    // Declared before the thread, which starts using them at once.
    Job job_;
    std::atomic<int> go_{0};
    std::thread thread_;

    void loop()
    {
        int seen = 0;
        for (;;)
        {
            int now;
            while ((now = go_.load(std::memory_order_acquire)) == seen) futex_wait(go_, seen, -1);
            seen = now;
            run(job_);
        }
    }

    static void run(Job& job)
    {
        Block& block = *job.block;
        AslEmuThread* self = &job.thread;
        ASL_EMU_ACQUIRE(&block.index);       // the block starts after the host's and the previous block's writes
        bool normal = false;
        try
        {
            block.kernel->run(self, job.parameters);
            normal = true;
        }
        catch (const ThreadAbort&)
        {
        }
        catch (...)
        {
            RuntimeScope scope;
            block.mutex.lock();
            block.fail("thread " + std::to_string(self->linear) + " threw a C++ exception");
            block.mutex.unlock();
        }
        ASL_EMU_RELEASE(&block.threads);     // the host (and the next block) see this thread's writes
        RuntimeScope scope;
        block.mutex.lock();
        if (normal)
        {
            const int lane = self->linear & 31;
            Warp& warp = block.warps[self->linear >> 5];
            block.exited++;
            warp.exited |= 1u << lane;
            for (const auto& op : warp.pending)
                if (!block.failed && (op.mask & (1u << lane)))
                    block.fail("lane " + std::to_string(lane) + " of warp " + std::to_string(self->linear >> 5) + " exited while lanes " +
                               hex(op.arrived) + " wait for it in " + warp_function_name(op.kind) + " with mask " + hex(op.mask));
            block.check_stuck();
        }
        block.finished++;
        if (block.finished == block.threads) block.finished_changed.notify_all();
        block.mutex.unlock();
    }

};

class Pool
{
public:
    Worker& worker(int i)
    {
        while ((int)workers_.size() <= i) workers_.push_back(std::make_unique<Worker>());
        return *workers_[i];
    }

private:
    std::vector<std::unique_ptr<Worker>> workers_;
};

Pool& pool()
{
    static Pool* instance = new Pool();   // never destroyed: its threads live as long as the process
    return *instance;
}

std::string broken;   // set when a block's threads never finished; later launches refuse to run

// ---- the built-ins -------------------------------------------------------------------------------------
int barrier(AslEmuThread* self, int kind, int predicate)
{
    RuntimeScope scope;
    Block& b = *static_cast<Block*>(self->block);
    b.mutex.lock();
    if (b.failed)
    {
        b.mutex.unlock();
        throw ThreadAbort();
    }
    if (b.barrier_arrived == 0)
    {
        b.barrier_kind = kind;
        b.barrier_count = 0;
    }
    else if (b.barrier_kind != kind)
        b.fail(std::string("thread ") + std::to_string(self->linear) + " calls " + barrier_name(kind) + " while others wait at " +
               barrier_name(b.barrier_kind));
    const unsigned generation = b.barrier_generation;
    b.barrier_arrived++;
    b.barrier_count += predicate;
    ASL_EMU_RELEASE(&b.barrier_tokens[generation & 1]);
    if (!b.failed && b.barrier_arrived == b.threads)
    {
        const int count = b.barrier_count;
        b.barrier_result = kind == ASL_EMU_BARRIER_COUNT ? count : kind == ASL_EMU_BARRIER_OR ? count > 0 : kind == ASL_EMU_BARRIER_AND ? count == b.threads : 0;
        b.release_waiters(b.barrier_arrived - 1);
        b.barrier_arrived = 0;
        b.barrier_generation++;
        b.barrier_changed.notify_all();
    }
    else
        b.wait(b.barrier_changed, [&] { return b.barrier_generation != generation; }, barrier_name(kind));
    if (b.failed)
    {
        b.mutex.unlock();
        throw ThreadAbort();
    }
    const int result = b.barrier_result;
    b.mutex.unlock();
    ASL_EMU_ACQUIRE(&b.barrier_tokens[generation & 1]);
    return result;
}

// The lane whose value `lane` receives, or -1 for its own value.
int source_lane(int kind, int lane, int argument, int width)
{
    const int base = lane & ~(width - 1);
    switch (kind)
    {
    case ASL_EMU_SHFL: return base + (argument & (width - 1));
    case ASL_EMU_SHFL_UP: return lane - argument < base ? -1 : lane - argument;
    case ASL_EMU_SHFL_DOWN: return lane + argument >= base + width ? -1 : lane + argument;
    case ASL_EMU_SHFL_XOR: return (lane ^ argument) >= base + width ? -1 : (lane ^ argument);
    default: return -1;
    }
}

unsigned long long warp_function(AslEmuThread* self, int kind, unsigned mask, unsigned long long value, int argument, int width)
{
    RuntimeScope scope;
    Block& b = *static_cast<Block*>(self->block);
    const int lane = self->linear & 31, w = self->linear >> 5;
    const unsigned bit = 1u << lane;
    const char* name = warp_function_name(kind);
    Warp& warp = b.warps[w];
    b.mutex.lock();
    auto misuse = [&](const std::string& what) {
        b.fail("lane " + std::to_string(lane) + " of warp " + std::to_string(w) + " (thread " + std::to_string(self->linear) + ") in " + name +
               " with mask " + hex(mask) + ": " + what);
        b.mutex.unlock();
        throw ThreadAbort();
    };
    if (b.failed)
    {
        b.mutex.unlock();
        throw ThreadAbort();
    }
    if (!(mask & bit)) misuse("the mask does not include the calling lane");
    if (mask & ~warp.lanes) misuse("the mask names lanes " + hex(mask & ~warp.lanes) + " that do not exist (the warp has " +
                                   std::to_string(__builtin_popcount(warp.lanes)) + " threads)");
    if (mask & warp.exited) misuse("the mask names lanes " + hex(mask & warp.exited) + " that have exited");
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) misuse("width " + std::to_string(width) + " is not a power of two up to 32");
    PendingWarpOp* op = nullptr;
    for (auto& p : warp.pending)
    {
        if (p.mask == mask) op = &p;
        else if (p.mask & mask)
            misuse("lanes " + hex(p.arrived) + " wait in " + warp_function_name(p.kind) + " with the overlapping mask " + hex(p.mask));
    }
    if (op == nullptr)
    {
        warp.pending.emplace_back();
        op = &warp.pending.back();
        op->mask = mask;
        op->kind = kind;
        op->width = width;
        op->token_id = warp.next_token++;
    }
    else if (op->kind != kind || op->width != width)
        misuse(std::string("lanes ") + hex(op->arrived) + " of the same mask wait in " + warp_function_name(op->kind) + " (width " +
               std::to_string(op->width) + ")");
    if (op->arrived & bit) misuse("the lane is already waiting in this warp function");
    op->value[lane] = value;
    op->argument[lane] = argument;
    op->arrived |= bit;
    char* token = &warp.tokens[op->token_id & 3];
    (void)token;
    ASL_EMU_RELEASE(token);
    const unsigned done = warp.done[lane];
    if (op->arrived == op->mask)
    {
        // Every lane of the mask is here: compute each lane's result.
        for (int l = 0; l < 32; l++)
        {
            if (!(op->mask & (1u << l))) continue;
            unsigned long long r;
            if (kind == ASL_EMU_BALLOT)
            {
                unsigned bits = 0;
                for (int k = 0; k < 32; k++)
                    if ((op->mask & (1u << k)) && op->value[k] != 0) bits |= 1u << k;
                r = bits;
            }
            else if (kind == ASL_EMU_WARP_SYNC)
                r = 0;
            else
            {
                int source = source_lane(kind, l, op->argument[l], op->width);
                if (source >= 0 && !(op->mask & (1u << source)))
                {
                    b.fail("lane " + std::to_string(l) + " of warp " + std::to_string(w) + " reads lane " + std::to_string(source) + " in " +
                           warp_function_name(kind) + ", which is not in the mask " + hex(op->mask));
                    break;
                }
                r = op->value[source >= 0 ? source : l];
            }
            warp.result[l] = r;
            warp.done[l]++;
        }
        b.release_waiters(__builtin_popcount(op->mask) - 1);
        warp.pending.erase(warp.pending.begin() + (op - warp.pending.data()));
        warp.changed.notify_all();
    }
    else
        b.wait(warp.changed, [&] { return warp.done[lane] != done; }, name);
    if (b.failed)
    {
        b.mutex.unlock();
        throw ThreadAbort();
    }
    const unsigned long long result = warp.result[lane];
    b.mutex.unlock();
    ASL_EMU_ACQUIRE(token);
    return result;
}

unsigned active_mask(AslEmuThread* self)
{
    RuntimeScope scope;
    Block& b = *static_cast<Block*>(self->block);
    b.mutex.lock();
    const Warp& warp = b.warps[self->linear >> 5];
    const unsigned mask = warp.lanes & ~warp.exited;
    b.mutex.unlock();
    return mask;
}

void trap(AslEmuThread* self, const char* what)
{
    RuntimeScope scope;
    Block& b = *static_cast<Block*>(self->block);
    b.mutex.lock();
    b.fail(std::string("thread ") + std::to_string(self->linear) + " executed " + what);
    b.mutex.unlock();
    throw ThreadAbort();
}

const AslEmuRuntime table = { &barrier, &warp_function, &active_mask, &trap };
}

const AslEmuRuntime* runtime_table() { return &table; }

double wait_timeout_seconds()
{
    static const double seconds = [] {
        const char* text = std::getenv("ASLCUDA_EMULATOR_TIMEOUT_S");
        double v = text ? std::atof(text) : 0;
        return v > 0 ? v : 10.0;
    }();
    return seconds;
}

std::string run_grid(const AslEmuKernel& kernel, AslEmuDim3 grid, AslEmuDim3 block_dim, void** parameters, const std::string& label)
{
    RuntimeScope scope;
    if (!broken.empty()) return "the emulator is unusable: " + broken;
    const int threads = (int)(block_dim.x * block_dim.y * block_dim.z);
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++)
            {
                auto owner = std::make_unique<Block>();
                Block& block = *owner;
                block.kernel = &kernel;
                block.label = label;
                block.index = AslEmuDim3{bx, by, bz};
                block.grid = grid;
                block.dim = block_dim;
                block.threads = threads;
                block.warps = std::vector<Warp>((threads + 31) / 32);
                for (int w = 0; w < (int)block.warps.size(); w++)
                {
                    int lanes = std::min(32, threads - 32 * w);
                    block.warps[w].lanes = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1u;
                }
                ASL_EMU_RELEASE(&block.index);
                for (int t = 0; t < threads; t++)
                {
                    Job job;
                    job.block = &block;
                    job.parameters = parameters;
                    job.thread.thread_idx = AslEmuDim3{t % block_dim.x, t / block_dim.x % block_dim.y, t / (block_dim.x * block_dim.y)};
                    job.thread.block_idx = block.index;
                    job.thread.block_dim = block_dim;
                    job.thread.grid_dim = grid;
                    job.thread.linear = t;
                    job.thread.block = &block;
                    pool().worker(t).start(job);
                }
                // Wait for every thread; a thread that never returns (an endless loop outside any barrier) cannot be
                // stopped, so after a generous limit the emulator gives up on this and every later launch.
                block.mutex.lock();
                const auto deadline = Clock::now() + std::chrono::duration<double>(4 * wait_timeout_seconds() + 10);
                while (block.finished < threads)
                {
                    double left = std::chrono::duration<double>(deadline - Clock::now()).count();
                    if (left <= 0)
                    {
                        broken = block.where() + ": " + std::to_string(threads - block.finished) + " thread(s) never finished (an endless loop?)";
                        block.mutex.unlock();
                        owner.release();   // leaked on purpose: its threads still use it
                        return broken;
                    }
                    block.finished_changed.wait(block.mutex, block.finished_changed.sample(), left);
                }
                block.mutex.unlock();
                ASL_EMU_ACQUIRE(&block.threads);
                if (block.failed) return block.failure;
            }
    return "";
}
}
