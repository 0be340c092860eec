// SPDX-License-Identifier: MIT
// The run context's writer: an in-memory buffer, a background thread that formats it into event
// lines and appends them to the event file, and (for the process-wide context) the exit,
// terminate and signal hooks that end the run. Included by ctml/run/context.hpp.
#pragma once
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/run/context.hpp"
#include "ctml/run/detail/process.hpp"
#include "ctml/run/environment.hpp"
#include "ctml/run/detail/forwarder.hpp"
#include "ctml/run/event.hpp"
#include "ctml/run/names.hpp"
#include "ctml/run/state.hpp"
#include "ctml/run/workspace_config.hpp"

namespace ctml::run::detail {

/// The step a metric gets when the trainer gives none: the series' next index.
inline constexpr std::int64_t auto_step = std::numeric_limits<std::int64_t>::min();

/// One buffered event; formatted by the writer thread, not by the caller.
struct record {
    event_kind kind;
    std::string key;
    std::string text;
    double value = 0;
    std::int64_t number = 0;
    std::int64_t ts = 0;
    run_state state = run_state::running;
};

inline const char* signal_name(int sig) noexcept {
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGXCPU: return "SIGXCPU";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "a signal";
    }
}

/// A request to stop (Canceled) rather than a fault (Failed).
inline bool is_stop_signal(int sig) noexcept {
    return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGXCPU ||
           sig == SIGUSR1 || sig == SIGUSR2;
}

inline std::string program_name() {
    std::ifstream in("/proc/self/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

/// A valid entity name made from `text` (program or folder names may hold anything).
inline std::string sanitized_name(std::string_view text, std::string_view fallback) {
    std::string out;
    for (const char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out += ok ? c : '_';
    }
    while (!out.empty() && !((out.front() >= 'a' && out.front() <= 'z') ||
                             (out.front() >= 'A' && out.front() <= 'Z') ||
                             (out.front() >= '0' && out.front() <= '9'))) {
        out.erase(0, 1);
    }
    if (out.size() > 64) {
        out.resize(64);
    }
    return out.empty() ? std::string(fallback) : out;
}

/// `<experiment>_<unix seconds>_<8 hex>`: sortable by time and unique without a coordinator
/// (mkdir refuses a collision, and the caller draws again).
inline std::string new_run_id(std::string_view experiment) {
    thread_local std::mt19937_64 gen{std::random_device{}() ^
                                     static_cast<std::uint64_t>(::getpid()) << 32};
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(gen() & 0xFFFFFFFFu));
    std::string id(experiment.substr(0, 96));
    id += '_';
    id += std::to_string(now_ms() / 1000);
    id += '_';
    id += hex;
    return id;
}

inline void make_dirs(const std::filesystem::path& p) {
    std::error_code ec;
    std::filesystem::create_directories(p, ec);
    if (ec) {
        throw file_error(p.string() + ": cannot create folder: " + ec.message(), ec);
    }
}

/// Copies `from` to `to` atomically (temp + fsync + rename), creating the parent folders.
inline void copy_into_run(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(from, ec)) {
        throw file_error(from.string() + ": not a regular file (nothing copied into the run)",
                         std::make_error_code(std::errc::no_such_file_or_directory));
    }
    make_dirs(to.parent_path());
    io::write_file_atomic(to, io::read_file(from));
}

class run_writer : public std::enable_shared_from_this<run_writer> {
public:
    run_writer(std::string id, std::string experiment, std::filesystem::path run_dir,
               std::filesystem::path root, bool offline, const context_options& opt)
        : id_(std::move(id)), experiment_(std::move(experiment)), run_dir_(std::move(run_dir)),
          root_(std::move(root)), offline_(offline), flush_interval_(opt.flush_interval),
          heartbeat_interval_(opt.heartbeat_interval) {
        const auto path = run_dir_ / "events.jsonl";
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (fd_ < 0) {
            io::detail::throw_file_error(path, "open for appending", errno);
        }
    }

    run_writer(const run_writer&) = delete;
    run_writer& operator=(const run_writer&) = delete;

    ~run_writer() {
        end(std::uncaught_exceptions() > 0 ? run_state::failed : run_state::completed,
            std::uncaught_exceptions() > 0 ? "the run's last handle was destroyed by an exception"
                                           : "");
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    /// Writes the start, environment and job events synchronously (so the run exists once the
    /// constructor of the context returns), then starts the thread.
    void begin(std::string_view job, std::string_view display_name) {
        const writer_identity me = this_process();
        std::string line;
        line += "{\"t\":\"start\",\"ts\":";
        append_json_int(line, now_ms());
        line += ",\"run\":";
        append_json_string(line, id_);
        line += ",\"exp\":";
        append_json_string(line, experiment_);
        line += ",\"pid\":";
        append_json_int(line, me.pid);
        line += ",\"pid_start\":";
        line += std::to_string(me.pid_start);
        line += ",\"host\":";
        append_json_string(line, me.host);
        line += ",\"boot\":";
        append_json_string(line, me.boot_id);
        line += ",\"offline\":";
        line += offline_ ? "true" : "false";
        line += ",\"format\":";
        append_json_int(line, event_format_version);
        line += "}\n";
        line += "{\"t\":\"env\",\"ts\":";
        append_json_int(line, now_ms());
        line += ",\"env\":";
        line += environment_json(threads_);
        line += "}\n";
        if (!job.empty()) {
            append_record(line, record{event_kind::job, {}, std::string(job), 0, 0, now_ms()});
        }
        if (!display_name.empty()) {
            append_record(line, record{event_kind::tag, "ctml.run_name", std::string(display_name),
                                       0, 0, now_ms()});
        }
        append_record(line, record{event_kind::state, {}, {}, 0, 0, now_ms(), run_state::running});
        io::detail::write_all(fd_, line, run_dir_ / "events.jsonl");
        last_write_ = std::chrono::steady_clock::now();
        thread_ = std::thread([this] { loop(); });
    }

    void push(record r) {
        r.ts = r.ts != 0 ? r.ts : now_ms();
        std::lock_guard<std::timed_mutex> lk(m_);
        if (ended_.load(std::memory_order_relaxed)) {
            return;
        }
        buffer_.push_back(std::move(r));
        ++pushed_;
    }

    void metric(std::string_view name, double value, std::int64_t step) {
        check_key_name("metric", name);
        const std::int64_t ts = coarse_now_ms();
        std::lock_guard<std::timed_mutex> lk(m_);
        if (ended_.load(std::memory_order_relaxed)) {
            return;
        }
        buffer_.push_back(record{event_kind::metric, std::string(name), {}, value, step, ts});
        ++pushed_;
    }

    void set_threads(unsigned t) { threads_ = t; }

    void flush() {
        std::unique_lock<std::timed_mutex> lk(m_);
        if (ended_.load()) {
            return;
        }
        const std::uint64_t target = pushed_;
        const std::uint64_t errors_before = write_errors_;
        flush_requested_ = true;
        lk.unlock();
        wake_.notify_all();
        lk.lock();
        while (written_ < target && !ended_.load()) {
            if (write_errors_ > errors_before) {
                throw file_error("run " + id_ + ": cannot write " +
                                 (run_dir_ / "events.jsonl").string() + ": " + last_error_ +
                                 " (the events stay buffered and are retried)");
            }
            done_.wait_for(lk, std::chrono::milliseconds(50));
        }
    }

    void end(run_state state, std::string_view reason) {
        if (ended_.exchange(true)) {
            return;
        }
        {
            std::lock_guard<std::timed_mutex> lk(m_);
            buffer_.push_back(record{event_kind::end, {}, std::string(reason), 0, 0, now_ms(),
                                     state});
            ++pushed_;
            stop_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) {
            if (thread_.get_id() == std::this_thread::get_id()) {
                thread_.detach();
            } else {
                thread_.join();
            }
        } else {
            drain(true);
        }
    }

    bool ended() const noexcept { return ended_.load(); }

    /// Called from a signal handler: only atomics and async-signal-safe calls from here.
    void on_signal(int sig) noexcept {
        if (ended_.load()) {
            return;
        }
        pending_signal_.store(sig);
        const bool on_writer = thread_started_.load() && ::pthread_equal(::pthread_self(),
                                                                         writer_pthread_.load());
        if (!on_writer) {
            // Give the writer thread up to 3 s to write the buffer and the end event.
            for (int i = 0; i < 600 && !end_written_.load(); ++i) {
                struct timespec ts{0, 5'000'000};
                ::nanosleep(&ts, nullptr);
            }
        }
        if (!end_written_.exchange(true)) {
            emergency_end(sig);
        }
    }

    const std::string& id() const noexcept { return id_; }
    const std::string& experiment() const noexcept { return experiment_; }
    const std::filesystem::path& run_dir() const noexcept { return run_dir_; }
    const std::filesystem::path& root() const noexcept { return root_; }
    bool offline() const noexcept { return offline_; }
    int fd() const noexcept { return fd_; }

private:
    void loop() {
        // Asynchronous stop signals go to the other threads, whose handlers wait for this one.
        sigset_t set;
        sigemptyset(&set);
        for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXCPU, SIGUSR1, SIGUSR2}) {
            sigaddset(&set, s);
        }
        ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
        writer_pthread_.store(::pthread_self());
        thread_started_.store(true);
        auto last_heartbeat = std::chrono::steady_clock::now();
        auto last_sync = last_heartbeat;
        for (;;) {
            bool stop = false;
            bool requested = false;
            {
                std::unique_lock<std::timed_mutex> lk(m_);
                // 50 ms: the latency with which a signal handler's request is seen (a handler
                // cannot notify a condition variable).
                wake_.wait_for(lk, std::chrono::milliseconds(50), [&] {
                    return stop_ || flush_requested_ || pending_signal_.load() != 0;
                });
                stop = stop_;
                requested = flush_requested_;
            }
            if (const int sig = pending_signal_.load(); sig != 0) {
                end_from_signal(sig);
                return;
            }
            const auto now = std::chrono::steady_clock::now();
            if (stop) {
                drain(true);
                return;
            }
            if (requested || now - last_write_ >= flush_interval_) {
                drain(requested);
            }
            if (now - last_heartbeat >= heartbeat_interval_) {
                last_heartbeat = now;
                std::string hb = "{\"t\":\"hb\",\"ts\":";
                append_json_int(hb, now_ms());
                hb += "}\n";
                write_block(hb);
                if (now - last_sync >= heartbeat_interval_) {
                    ::fdatasync(fd_);
                    last_sync = now;
                }
            }
        }
    }

    /// Formats and writes everything buffered; `sync`: also fdatasync.
    void drain(bool sync) {
        std::vector<record> batch;
        std::uint64_t taken = 0;
        {
            std::lock_guard<std::timed_mutex> lk(m_);
            batch.swap(buffer_);
            // The next batch is likely as large: no regrowth on the logging thread.
            buffer_.reserve(batch.size());
            taken = pushed_;
            flush_requested_ = false;
        }
        assign_steps(batch);
        for (const record& r : batch) {
            append_record(unwritten_, r);
        }
        const bool ok = write_pending(stop_requested());
        if (ok && sync) {
            ::fdatasync(fd_);
        }
        {
            std::lock_guard<std::timed_mutex> lk(m_);
            if (ok) {
                written_ = taken;
            }
        }
        done_.notify_all();
        if (batch.size() > 0 && batch.back().kind == event_kind::end && ok) {
            end_written_.store(true);
        }
    }

    bool stop_requested() {
        std::lock_guard<std::timed_mutex> lk(m_);
        return stop_;
    }

    /// Writes unwritten_; on failure keeps it (the whole of it: a partial line already written
    /// is ended with a newline first next time, so readers skip it and the data is written
    /// again whole). At the end, retries a few times before giving up.
    bool write_pending(bool final_attempt) {
        for (int attempt = 0; attempt < (final_attempt ? 5 : 1); ++attempt) {
            if (unwritten_.empty()) {
                return true;
            }
            if (write_block(unwritten_)) {
                unwritten_.clear();
                return true;
            }
            if (final_attempt) {
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        }
        return false;
    }

    bool write_block(std::string_view bytes) {
        if (partial_) {
            if (::write(fd_, "\n", 1) != 1) {
                note_error(errno);
                return false;
            }
            partial_ = false;
        }
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ::ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                partial_ = done > 0;
                note_error(errno);
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        last_write_ = std::chrono::steady_clock::now();
        return true;
    }

    void note_error(int err) {
        std::lock_guard<std::timed_mutex> lk(m_);
        last_error_ = std::strerror(err);
        if (write_errors_++ == 0) {
            std::fprintf(stderr,
                         "ctml: run %s: cannot write its events (%s); they stay in memory and "
                         "are retried every second\n",
                         id_.c_str(), last_error_.c_str());
        }
    }

    void end_from_signal(int sig) {
        std::vector<record> batch;
        // The interrupted thread may hold the mutex (it was inside a log call): wait a little,
        // then give up on the buffer rather than deadlock.
        if (m_.try_lock_for(std::chrono::milliseconds(500))) {
            batch.swap(buffer_);
            ended_.store(true);
            m_.unlock();
        }
        assign_steps(batch);
        for (const record& r : batch) {
            append_record(unwritten_, r);
        }
        const run_state st = is_stop_signal(sig) ? run_state::canceled : run_state::failed;
        append_record(unwritten_, record{event_kind::end, {},
                                         std::string("killed by signal ") + signal_name(sig), 0, 0,
                                         now_ms(), st});
        if (write_pending(false)) {
            ::fdatasync(fd_);
            end_written_.store(true);
        }
    }

    /// The end line written by the signal handler itself when the writer thread did not answer:
    /// formatted by hand into a stack buffer (no allocation in a signal handler).
    void emergency_end(int sig) noexcept {
        char line[256];
        std::size_t n = 0;
        const auto put = [&](const char* s) {
            while (*s != '\0' && n + 1 < sizeof line) {
                line[n++] = *s++;
            }
        };
        struct timespec ts {};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        std::int64_t ms = static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
        char digits[24];
        int d = 0;
        do {
            digits[d++] = static_cast<char>('0' + ms % 10);
            ms /= 10;
        } while (ms > 0 && d < 23);
        put("\n{\"t\":\"end\",\"ts\":");
        while (d > 0) {
            line[n++] = digits[--d];
        }
        put(",\"state\":\"");
        put(is_stop_signal(sig) ? "Canceled" : "Failed");
        put("\",\"reason\":\"killed by signal ");
        put(signal_name(sig));
        put(" (buffered events since the last write lost)\"}\n");
        [[maybe_unused]] const ::ssize_t w = ::write(fd_, line, n);
        ::fdatasync(fd_);
    }

    static void append_record(std::string& out, const record& r) {
        out += "{\"t\":\"";
        out += event_type_name(r.kind);
        out += "\",\"ts\":";
        append_json_int(out, r.ts);
        switch (r.kind) {
        case event_kind::metric:
            out += ",\"k\":";
            append_json_string(out, r.key);
            out += ",\"v\":";
            append_json_number(out, r.value);
            out += ",\"s\":";
            append_json_int(out, r.number);
            break;
        case event_kind::param:
        case event_kind::tag:
            out += ",\"k\":";
            append_json_string(out, r.key);
            out += ",\"v\":";
            append_json_string(out, r.text);
            break;
        case event_kind::image:
            out += ",\"k\":";
            append_json_string(out, r.key);
            out += ",\"path\":";
            append_json_string(out, r.text);
            break;
        case event_kind::file:
            out += ",\"path\":";
            append_json_string(out, r.text);
            break;
        case event_kind::job:
            out += ",\"job\":";
            append_json_string(out, r.text);
            break;
        case event_kind::environment:
            out += ",\"env\":";
            out += r.text;
            break;
        case event_kind::dataset:
            out += ",\"k\":";
            append_json_string(out, r.key);
            out += ",\"ver\":";
            append_json_int(out, r.number);
            break;
        case event_kind::state:
        case event_kind::end:
            out += ",\"state\":";
            append_json_string(out, to_string(r.state));
            out += ",\"reason\":";
            append_json_string(out, r.text);
            break;
        case event_kind::start:
        case event_kind::heartbeat: break;
        }
        out += "}\n";
    }

    // Auto steps are assigned here, in the writer thread, in logging order.
    void assign_steps(std::vector<record>& batch) {
        for (record& r : batch) {
            if (r.kind == event_kind::metric && r.number == auto_step) {
                r.number = next_step_[r.key]++;
            } else if (r.kind == event_kind::metric) {
                std::int64_t& next = next_step_[r.key];
                next = std::max(next, r.number + 1);
            }
        }
    }

    friend class ::ctml::run::context;

    const std::string id_;
    const std::string experiment_;
    const std::filesystem::path run_dir_;
    const std::filesystem::path root_;
    const bool offline_;
    const std::chrono::milliseconds flush_interval_;
    const std::chrono::milliseconds heartbeat_interval_;
    int fd_ = -1;
    unsigned threads_ = 0;

    std::timed_mutex m_;
    std::condition_variable_any wake_;
    std::condition_variable_any done_;
    std::vector<record> buffer_;
    std::uint64_t pushed_ = 0;
    std::uint64_t written_ = 0;
    bool flush_requested_ = false;
    bool stop_ = false;
    std::uint64_t write_errors_ = 0;
    std::string last_error_;

    // Writer thread only.
    std::string unwritten_;
    bool partial_ = false;
    std::chrono::steady_clock::time_point last_write_;
    std::unordered_map<std::string, std::int64_t> next_step_;

    std::thread thread_;
    std::atomic<bool> ended_{false};
    std::atomic<bool> end_written_{false};
    std::atomic<int> pending_signal_{0};
    std::atomic<bool> thread_started_{false};
    std::atomic<pthread_t> writer_pthread_{};
};

// ---------------------------------------------------------------------------------------------
// Process-wide hooks (the context returned by context::current only).

struct process_hooks {
    static inline std::atomic<run_writer*> writer{nullptr};
    static inline struct sigaction previous[65] = {};
    static inline std::terminate_handler previous_terminate = nullptr;

    static constexpr int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXCPU,
                                      SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

    static void on_signal(int sig) {
        if (run_writer* w = writer.load(); w != nullptr && sig > 0 && sig < 65) {
            w->on_signal(sig);
        }
        if (sig <= 0 || sig >= 65) {
            return;
        }
        // Back to what was there (the default) and again: the process ends as it would have.
        ::sigaction(sig, &previous[sig], nullptr);
        ::raise(sig);
    }

    [[noreturn]] static void on_terminate() {
        std::string reason = "std::terminate called";
        if (const std::exception_ptr e = std::current_exception()) {
            try {
                std::rethrow_exception(e);
            } catch (const ::ctml::error& x) {
                reason = std::string("uncaught ctml error (") +
                         std::string(error_code_name(x.code())) + "): " + x.what();
            } catch (const std::exception& x) {
                reason = std::string("uncaught exception: ") + x.what();
            } catch (...) {
                reason = "uncaught exception of a type not derived from std::exception";
            }
        }
        if (run_writer* w = writer.load()) {
            w->end(run_state::failed, reason);
        }
        if (previous_terminate != nullptr) {
            previous_terminate();
        }
        std::abort();
    }

    static void on_exit_status(int status, void*) {
        if (run_writer* w = writer.load()) {
            if (status == 0) {
                w->end(run_state::completed, "");
            } else {
                w->end(run_state::failed, "the process exited with status " +
                                              std::to_string(status));
            }
        }
    }

    static void install(run_writer* w) {
        writer.store(w);
#if defined(__GLIBC__)
        ::on_exit(&on_exit_status, nullptr); // glibc: the handler sees the exit status
#else
        std::atexit([] { on_exit_status(0, nullptr); });
#endif
        previous_terminate = std::set_terminate(&on_terminate);
        for (const int sig : signals) {
            struct sigaction old {};
            if (::sigaction(sig, nullptr, &old) != 0) {
                continue;
            }
            // Only where nobody chose a behaviour: a trainer's own handler (say, a graceful stop
            // on SIGINT) stays in charge, and then the run ends when the process exits.
            const bool is_default = (old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler == SIG_DFL;
            if (!is_default) {
                continue;
            }
            previous[sig] = old;
            struct sigaction sa {};
            sa.sa_handler = &on_signal;
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = 0;
            ::sigaction(sig, &sa, nullptr);
        }
    }
};

inline bool tracking_disabled() {
    const char* v = std::getenv("CTML_TRACKING");
    if (v == nullptr) {
        return false;
    }
    const std::string_view s(v);
    return s == "off" || s == "0" || s == "false" || s == "no" || s == "OFF" || s == "FALSE" ||
           s == "NO";
}

inline std::string experiment_from(std::string_view given) {
    if (!given.empty()) {
        return std::string(check_entity_name("experiment", given));
    }
    if (const char* env = std::getenv("CTML_EXPERIMENT"); env != nullptr && *env != '\0') {
        return std::string(check_entity_name("experiment (CTML_EXPERIMENT)", env));
    }
    return sanitized_name(program_name(), "default");
}

inline std::shared_ptr<run_writer> make_offline(const workspace_config& ws,
                                                const std::string& experiment,
                                                const context_options& opt) {
    make_dirs(ws.runs_dir());
    for (int attempt = 0;; ++attempt) {
        const std::string id = new_run_id(experiment);
        const std::filesystem::path dir = ws.runs_dir() / id;
        if (::mkdir(dir.c_str(), 0777) != 0) {
            if (errno == EEXIST && attempt < 100) {
                continue;
            }
            io::detail::throw_file_error(dir, "create the run folder", errno);
        }
        for (const char* sub : {"outputs", "logs", "images"}) {
            make_dirs(dir / sub);
        }
        auto w = std::make_shared<run_writer>(id, experiment, dir, ws.root, true, opt);
        w->begin(opt.job_description, opt.display_name);
        start_forwarder(ws, id, dir); // MLflow workspaces only (run/detail/forwarder.hpp)
        return w;
    }
}

inline std::shared_ptr<run_writer> make_attached(const std::filesystem::path& run_dir,
                                                 const context_options& opt,
                                                 const char* what) {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::absolute(run_dir, ec).lexically_normal();
    if (ec || !std::filesystem::is_directory(dir, ec)) {
        throw workspace_error(std::string(what) + "=" + run_dir.string() +
                              ": not a run folder (it does not exist)");
    }
    const std::string id = dir.filename().string();
    check_entity_name(std::string(what) + ": run id", id);
    if (const char* env = std::getenv("CTML_RUN_ID"); env != nullptr && *env != '\0' &&
                                                      std::string_view(env) != id) {
        throw workspace_error(std::string("CTML_RUN_ID=") + env + " does not name the run folder " +
                              dir.string());
    }
    // <root>/runs/<id>: the store folder is two levels up.
    const std::filesystem::path root = dir.parent_path().parent_path();
    std::string experiment;
    if (!opt.experiment.empty()) {
        experiment = opt.experiment;
    } else if (const char* env = std::getenv("CTML_EXPERIMENT"); env != nullptr) {
        experiment = env;
    }
    for (const char* sub : {"outputs", "logs", "images"}) {
        make_dirs(dir / sub);
    }
    auto w = std::make_shared<run_writer>(id, experiment, dir, root, false, opt);
    w->begin(opt.job_description, opt.display_name);
    return w;
}

inline std::shared_ptr<run_writer> make_writer(const context_options& opt, bool* created_local,
                                               std::string* local_note) {
    if (!opt.ignore_environment) {
        if (const char* env = std::getenv("CTML_RUN_DIR"); env != nullptr && *env != '\0') {
            return make_attached(env, opt, "CTML_RUN_DIR");
        }
    }
    const std::string experiment = experiment_from(opt.experiment);
    std::optional<workspace_config> ws;
    if (!opt.workspace.empty()) {
        const auto& p = opt.workspace;
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) {
            ws = load_workspace_config(p);
        } else if (std::filesystem::is_regular_file(p / "config.json", ec)) {
            ws = load_workspace_config(p / "config.json");
        } else if (std::filesystem::is_regular_file(p / ".ctml" / "config.json", ec)) {
            ws = load_workspace_config(p / ".ctml" / "config.json");
        } else {
            throw config_error(p.string() + ": no config.json there (nor in its .ctml/)");
        }
    } else {
        ws = locate_workspace();
    }
    if (!ws) {
        if (!opt.create_local_workspace) {
            return nullptr;
        }
        const std::filesystem::path cwd = std::filesystem::current_path();
        const std::string name = sanitized_name(cwd.filename().string(), "local");
        try {
            ws = create_workspace_folder(cwd / ".ctml", name);
        } catch (const ::ctml::error& e) {
            if (local_note != nullptr) {
                *local_note = std::string("ctml: no workspace found from ") + cwd.string() +
                              " and none could be created (" + e.what() +
                              "); this run is not recorded";
            }
            return nullptr;
        }
        if (created_local != nullptr) {
            *created_local = true;
        }
        if (local_note != nullptr) {
            *local_note = "ctml: no workspace found from " + cwd.string() +
                          "; created a local one in " + (cwd / ".ctml").string() +
                          " (workspace \"" + name + "\")";
        }
    }
    return make_offline(*ws, experiment, opt);
}

} // namespace ctml::run::detail

namespace ctml::run {

namespace detail {
inline const std::string& empty_string() {
    static const std::string s;
    return s;
}
inline const std::filesystem::path& empty_path() {
    static const std::filesystem::path p;
    return p;
}
} // namespace detail

inline context& context::current(std::string_view experiment) {
    // Never destroyed: logging from other static destructors stays safe, and the exit hook
    // (registered after it exists) ends the run with the exit status.
    static context* const instance = [&] {
        auto* c = new context();
        if (detail::tracking_disabled()) {
            return c;
        }
        context_options opt;
        opt.experiment = std::string(experiment);
        std::string note;
        bool local = false;
        auto w = detail::make_writer(opt, &local, &note);
        if (!note.empty()) {
            std::fprintf(stderr, "%s\n", note.c_str());
        }
        if (w) {
            c->writer_ = std::move(w);
            detail::process_hooks::install(c->writer_.get());
        }
        return c;
    }();
    return *instance;
}

inline context context::start(const context_options& options) {
    std::string note;
    auto w = detail::make_writer(options, nullptr, &note);
    if (!w && !note.empty()) {
        std::fprintf(stderr, "%s\n", note.c_str());
    }
    return context(std::move(w));
}

inline context context::attach(const std::filesystem::path& run_dir,
                               const context_options& options) {
    return context(detail::make_attached(run_dir, options, "run folder"));
}

inline const std::string& context::id() const noexcept {
    return writer_ ? writer_->id() : detail::empty_string();
}
inline const std::string& context::experiment() const noexcept {
    return writer_ ? writer_->experiment() : detail::empty_string();
}
inline const std::filesystem::path& context::run_dir() const noexcept {
    return writer_ ? writer_->run_dir() : detail::empty_path();
}
inline const std::filesystem::path& context::workspace_root() const noexcept {
    return writer_ ? writer_->root() : detail::empty_path();
}
inline std::filesystem::path context::outputs_dir() const {
    return writer_ ? writer_->run_dir() / "outputs" : std::filesystem::path("outputs");
}
inline std::filesystem::path context::logs_dir() const {
    return writer_ ? writer_->run_dir() / "logs" : std::filesystem::path("logs");
}
inline bool context::offline() const noexcept { return writer_ && writer_->offline(); }

inline void context::log(std::string_view name, double value) {
    if (writer_) {
        writer_->metric(name, value, detail::auto_step);
    }
}
inline void context::log(std::string_view name, double value, std::int64_t step) {
    if (writer_) {
        writer_->metric(name, value, step);
    }
}
inline void context::log_param(std::string_view name, std::string_view value) {
    if (writer_) {
        check_key_name("param", name);
        writer_->push(detail::record{event_kind::param, std::string(name), std::string(value)});
    }
}
inline void context::log_param(std::string_view name, double value) {
    std::string s;
    detail::append_json_number(s, value);
    if (!s.empty() && s.front() == '"') {
        s = s.substr(1, s.size() - 2);
    }
    log_param(name, std::string_view(s));
}
inline void context::log_param(std::string_view name, std::int64_t value) {
    log_param(name, std::string_view(std::to_string(value)));
}
inline void context::set_tag(std::string_view name, std::string_view value) {
    if (writer_) {
        check_key_name("tag", name);
        writer_->push(detail::record{event_kind::tag, std::string(name), std::string(value)});
    }
}
inline void context::log_image(std::string_view name, const std::filesystem::path& file) {
    if (!writer_) {
        return;
    }
    check_key_name("image", name);
    std::string stem = detail::sanitized_name(name, "image");
    std::string ext = file.extension().string();
    if (ext.empty() || ext.size() > 8) {
        ext = ".png";
    }
    const std::string rel = "images/" + stem + ext;
    detail::copy_into_run(file, writer_->run_dir() / rel);
    writer_->push(detail::record{event_kind::image, std::string(name), rel});
}
inline std::filesystem::path context::upload_file(const std::filesystem::path& file,
                                                  std::string_view name_in_run) {
    check_relative_path("file in the run", name_in_run);
    if (!writer_) {
        return {};
    }
    const std::filesystem::path to = writer_->run_dir() / std::string(name_in_run);
    detail::copy_into_run(file, to);
    writer_->push(detail::record{event_kind::file, {}, std::string(name_in_run)});
    return to;
}
inline void context::set_job_description(std::string_view json) {
    if (writer_) {
        writer_->push(detail::record{event_kind::job, {}, std::string(json)});
    }
}
inline void context::record_threads(unsigned threads) {
    if (writer_) {
        writer_->set_threads(threads);
        writer_->push(detail::record{event_kind::environment, {}, environment_json(threads)});
    }
}
inline void context::use_dataset(std::string_view name, std::int64_t version) {
    if (writer_) {
        check_entity_name("dataset", name);
        writer_->push(detail::record{event_kind::dataset, std::string(name), {}, 0, version});
    }
}
inline void context::set_state(run_state state, std::string_view reason) {
    if (writer_) {
        writer_->push(detail::record{event_kind::state, {}, std::string(reason), 0, 0, 0, state});
    }
}
inline void context::flush() {
    if (writer_) {
        writer_->flush();
    }
}
inline void context::end(run_state final_state, std::string_view reason) {
    if (writer_) {
        if (!is_terminal(final_state)) {
            throw workspace_error(std::string("run ") + writer_->id() + ": end(" +
                                  std::string(to_string(final_state)) +
                                  "): a run ends Completed, Failed or Canceled");
        }
        writer_->end(final_state, reason);
    }
}
inline bool context::ended() const noexcept { return writer_ && writer_->ended(); }

} // namespace ctml::run
