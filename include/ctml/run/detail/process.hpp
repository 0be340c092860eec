// SPDX-License-Identifier: MIT
// Who a writer is, so that a reader can tell later whether it still lives: pid + the process'
// start time (clock ticks since boot, /proc/<pid>/stat field 22) + the kernel's boot id + host.
// A pid alone is reused; with its start time and boot id it names one process forever.
#pragma once
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include <signal.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

namespace ctml::run::detail {

inline std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// The wall clock at the kernel tick's resolution (1-4 ms): a few nanoseconds instead of a
/// full clock read, for the timestamps of metric points (stored in milliseconds anyway).
inline std::int64_t coarse_now_ms() {
#ifdef CLOCK_REALTIME_COARSE
    struct timespec ts {};
    if (::clock_gettime(CLOCK_REALTIME_COARSE, &ts) == 0) {
        return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
    }
#endif
    return now_ms();
}

/// Start time of process `pid` in clock ticks since boot; 0 when it does not exist, has exited
/// and waits to be reaped (a zombie runs no code), or /proc is not there.
inline std::uint64_t process_start_ticks(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) is in parentheses and may hold spaces and ')': parse after the
    // last ')'. Field 3 follows; the start time is field 22.
    const auto close = text.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream fields(text.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {
        if (!(fields >> field)) {
            return 0;
        }
        if (i == 3 && (field == "Z" || field == "X" || field == "x")) {
            return 0;
        }
    }
    try {
        return std::stoull(field);
    } catch (...) {
        return 0;
    }
}

/// The kernel's boot id (a UUID that changes at each boot); empty when unknown.
inline std::string boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
}

inline std::string this_host() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "unknown";
    }
    return buf;
}

/// @brief A writer's identity as its "start" event records it.
struct writer_identity {
    std::string host;
    std::string boot_id;
    std::int64_t pid = 0;
    std::uint64_t pid_start = 0;
};

inline writer_identity this_process() {
    writer_identity w;
    w.host = this_host();
    w.boot_id = boot_id();
    w.pid = ::getpid();
    w.pid_start = process_start_ticks(w.pid);
    return w;
}

/// @brief What can be said about a writer from here.
enum class liveness {
    alive,   ///< same host and boot, the pid runs with the same start time
    dead,    ///< same host and boot, and that process is gone
    unknown, ///< another host or boot (or no /proc): only the heartbeat can tell
};

/// @brief Checks `w` against this machine's processes.
inline liveness check_local(const writer_identity& w) {
    if (w.pid <= 0 || w.boot_id.empty() || w.host != this_host() || w.boot_id != boot_id()) {
        return liveness::unknown;
    }
    const std::uint64_t start = process_start_ticks(w.pid);
    if (start == 0) {
        // No /proc entry: gone, unless /proc itself is unreadable (then kill(pid, 0) decides).
        if (process_start_ticks(::getpid()) == 0) {
            return ::kill(static_cast<pid_t>(w.pid), 0) == 0 || errno == EPERM ? liveness::unknown
                                                                               : liveness::dead;
        }
        return liveness::dead;
    }
    return start == w.pid_start ? liveness::alive : liveness::dead;
}

} // namespace ctml::run::detail
