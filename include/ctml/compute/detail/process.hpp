// SPDX-License-Identifier: MIT
// Processes for the compute targets: starting a program in its own process group with its
// output appended to a file, running a short command under a timeout, finding every
// descendant of a process (through /proc) and ending them all.
#pragma once
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/core/error.hpp"

extern char** environ;

namespace ctml::compute::detail {

/// @brief This process's environment as NAME=VALUE strings, with `overrides` replacing or
/// adding variables (an empty value is still a value; use `remove` to drop one).
inline std::vector<std::string> make_environment(const std::map<std::string, std::string>& overrides,
                                                 const std::vector<std::string>& remove = {}) {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string s(*e);
        const auto eq = s.find('=');
        if (eq != std::string::npos) {
            env[s.substr(0, eq)] = s.substr(eq + 1);
        }
    }
    for (const auto& r : remove) {
        env.erase(r);
    }
    for (const auto& [k, v] : overrides) {
        env[k] = v;
    }
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [k, v] : env) {
        out.push_back(k + "=" + v);
    }
    return out;
}

/// @brief The program `name` as execvp would find it: a path with a '/' as is, else the first
/// executable regular file of that name on PATH. Nothing when there is none.
inline std::optional<std::filesystem::path> find_program(const std::string& name) {
    if (name.empty()) {
        return std::nullopt;
    }
    const auto usable = [](const std::filesystem::path& p) {
        struct ::stat st {};
        return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) {
        if (usable(name)) {
            return std::filesystem::absolute(name).lexically_normal();
        }
        return std::nullopt;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    std::stringstream ss(dirs);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        const auto p = std::filesystem::path(dir.empty() ? "." : dir) / name;
        if (usable(p)) {
            return std::filesystem::absolute(p).lexically_normal();
        }
    }
    return std::nullopt;
}

/// @brief What spawn starts.
struct spawn_spec {
    std::vector<std::string> argv;
    std::vector<std::string> env;       ///< NAME=VALUE; the whole environment
    std::filesystem::path cwd{};         ///< empty: the current folder
    std::filesystem::path output{};      ///< stdout and stderr appended here; empty: /dev/null
    bool new_process_group = true;       ///< the child leads its own group (pgid = pid)
    /// Called in the parent once the child exists (in its own group, output redirected) and
    /// before it execs: the program runs nothing, and so writes nothing, until this returns.
    /// When it throws, the child is killed without having run and spawn rethrows.
    std::function<void(pid_t)> before_exec{};
};

/// @brief Starts spec.argv[0] (searched on PATH). Returns the child's pid; throws
/// ctml::compute_error when it cannot be started (the exec error is reported through a pipe,
/// so a missing program fails here, not as an exit status).
inline pid_t spawn(const spawn_spec& spec) {
    if (spec.argv.empty()) {
        throw compute_error("spawn: no program");
    }
    std::vector<char*> argv;
    for (const auto& a : spec.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : spec.env) {
        envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);
    int out_fd = -1;
    const std::string out = spec.output.empty() ? std::string("/dev/null") : spec.output.string();
    out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0) {
        throw compute_error("cannot open " + out + " for the job's output: " +
                            std::strerror(errno));
    }
    int pipe_fd[2];
    if (::pipe2(pipe_fd, O_CLOEXEC) != 0) {
        ::close(out_fd);
        throw compute_error(std::string("pipe: ") + std::strerror(errno));
    }
    // The gate: with before_exec the child waits for one byte on it before it execs. A socket,
    // not a pipe: the byte goes with MSG_NOSIGNAL, so a child that died first (a failed chdir)
    // costs no SIGPIPE here.
    int gate_fd[2] = {-1, -1};
    if (spec.before_exec && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate_fd) != 0) {
        const int e = errno;
        ::close(out_fd);
        ::close(pipe_fd[0]);
        ::close(pipe_fd[1]);
        throw compute_error(std::string("socketpair: ") + std::strerror(e));
    }
    const auto close_gate = [&] {
        for (int& fd : gate_fd) {
            if (fd >= 0) {
                ::close(fd);
                fd = -1;
            }
        }
    };
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        ::close(out_fd);
        ::close(pipe_fd[0]);
        ::close(pipe_fd[1]);
        close_gate();
        throw compute_error(std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls until exec.
        if (gate_fd[1] >= 0) {
            ::close(gate_fd[1]); // else a parent that died would never give EOF
        }
        if (spec.new_process_group) {
            ::setpgid(0, 0);
        }
        const int in = ::open("/dev/null", O_RDONLY);
        if (in >= 0) {
            ::dup2(in, 0);
        }
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
            const int e = errno;
            (void)!::write(pipe_fd[1], &e, sizeof e);
            ::_exit(127);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2}) {
            ::signal(s, SIG_DFL);
        }
        if (gate_fd[0] >= 0) {
            char go = 0;
            ssize_t r = 0;
            do {
                r = ::read(gate_fd[0], &go, 1);
            } while (r < 0 && errno == EINTR);
            if (r != 1) {
                ::_exit(127); // the parent gave up: run nothing
            }
        }
        ::execvpe(argv[0], argv.data(), envp.data());
        const int e = errno;
        (void)!::write(pipe_fd[1], &e, sizeof e);
        ::_exit(127);
    }
    if (spec.new_process_group) {
        ::setpgid(pid, pid); // also here: no race with a kill of the group right after
    }
    ::close(out_fd);
    ::close(pipe_fd[1]);
    if (spec.before_exec) {
        ::close(gate_fd[0]);
        gate_fd[0] = -1;
        try {
            spec.before_exec(pid);
        } catch (...) {
            ::kill(pid, SIGKILL);
            close_gate();
            ::close(pipe_fd[0]);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            throw;
        }
        const char go = 1;
        ssize_t w = 0;
        do {
            w = ::send(gate_fd[1], &go, 1, MSG_NOSIGNAL);
        } while (w < 0 && errno == EINTR);
        close_gate();
    }
    int child_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(pipe_fd[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    ::close(pipe_fd[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        throw compute_error("cannot start " + spec.argv[0] + ": " + std::strerror(child_errno));
    }
    return pid;
}

/// @brief Result of run_command.
struct command_result {
    int exit_code = -1;      ///< the exit status, or -1 when killed or timed out
    int signal = 0;          ///< the signal that ended it
    bool timed_out = false;
    std::string output;      ///< stdout and stderr together
};

/// @brief Runs argv to completion, capturing its output, killing it (and its group) after
/// `timeout`. Throws ctml::compute_error when it cannot start.
inline command_result run_command(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env,
                                  std::chrono::milliseconds timeout,
                                  const std::filesystem::path& cwd = {}) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw compute_error(std::string("pipe: ") + std::strerror(errno));
    }
    std::vector<char*> a;
    for (const auto& s : argv) {
        a.push_back(const_cast<char*>(s.c_str()));
    }
    a.push_back(nullptr);
    std::vector<char*> e;
    for (const auto& s : env) {
        e.push_back(const_cast<char*>(s.c_str()));
    }
    e.push_back(nullptr);
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        throw compute_error(std::string("pipe: ") + std::strerror(errno));
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw compute_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        const int in = ::open("/dev/null", O_RDONLY);
        if (in >= 0) {
            ::dup2(in, 0);
        }
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            ::_exit(127);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execvpe(a[0], a.data(), e.data());
        const int en = errno;
        (void)!::write(err_pipe[1], &en, sizeof en);
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(fds[1]);
    ::close(err_pipe[1]);
    int child_errno = 0;
    const ssize_t en = ::read(err_pipe[0], &child_errno, sizeof child_errno);
    ::close(err_pipe[0]);
    command_result r;
    if (en == static_cast<ssize_t>(sizeof child_errno)) {
        ::close(fds[0]);
        int st = 0;
        ::waitpid(pid, &st, 0);
        throw compute_error("cannot run " + argv[0] + ": " + std::strerror(child_errno));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool open = true;
    char buf[4096];
    while (open) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (rc < 0 && errno != EINTR) {
            break;
        }
        if (rc > 0) {
            const ssize_t n = ::read(fds[0], buf, sizeof buf);
            if (n > 0) {
                r.output.append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                open = false;
            }
        }
    }
    ::close(fds[0]);
    int status = 0;
    if (r.timed_out) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return r;
    }
    // Output closed: the program is ending; wait for it within what is left of the timeout.
    for (;;) {
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            r.timed_out = true;
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return r;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.signal = WTERMSIG(status);
    }
    return r;
}

/// @brief Parent pid of every process (from /proc/<pid>/stat).
inline std::map<pid_t, pid_t> parent_map() {
    std::map<pid_t, pid_t> out;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) {
        return out;
    }
    while (const dirent* e = ::readdir(d)) {
        const char* n = e->d_name;
        if (*n < '0' || *n > '9') {
            continue;
        }
        std::ifstream in(std::string("/proc/") + n + "/stat");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto close = text.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        std::istringstream fields(text.substr(close + 1));
        std::string state;
        long ppid = 0;
        if (fields >> state >> ppid) {
            out[static_cast<pid_t>(std::atol(n))] = static_cast<pid_t>(ppid);
        }
    }
    ::closedir(d);
    return out;
}

/// @brief Every descendant of `root` (not root itself).
inline std::vector<pid_t> descendants(pid_t root) {
    const auto parents = parent_map();
    std::map<pid_t, std::vector<pid_t>> children;
    for (const auto& [pid, ppid] : parents) {
        children[ppid].push_back(pid);
    }
    std::vector<pid_t> out;
    std::vector<pid_t> todo{root};
    std::set<pid_t> seen{root};
    while (!todo.empty()) {
        const pid_t p = todo.back();
        todo.pop_back();
        for (const pid_t c : children[p]) {
            if (seen.insert(c).second) {
                out.push_back(c);
                todo.push_back(c);
            }
        }
    }
    return out;
}

/// @brief Members of process group `pgid` that still run code (zombies excluded).
inline std::vector<pid_t> group_members(pid_t pgid) {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) {
        return out;
    }
    while (const dirent* e = ::readdir(d)) {
        const char* n = e->d_name;
        if (*n < '0' || *n > '9') {
            continue;
        }
        std::ifstream in(std::string("/proc/") + n + "/stat");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto close = text.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        std::istringstream fields(text.substr(close + 1));
        std::string state;
        long ppid = 0, pg = 0;
        if (fields >> state >> ppid >> pg && pg == pgid && state != "Z" && state != "X") {
            out.push_back(static_cast<pid_t>(std::atol(n)));
        }
    }
    ::closedir(d);
    return out;
}

/// @brief The last `max_lines` lines of `path` (reading at most its last 64 KiB).
inline std::vector<std::string> tail_lines(const std::filesystem::path& path, std::size_t max_lines) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {};
    }
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff from = std::max<std::streamoff>(0, size - 65536);
    in.seekg(from);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> lines;
    std::stringstream ss(text);
    std::string line;
    bool first = from > 0; // the first line may be cut
    while (std::getline(ss, line)) {
        if (first) {
            first = false;
            continue;
        }
        lines.push_back(line);
    }
    if (lines.size() > max_lines) {
        lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max_lines));
    }
    return lines;
}

inline std::string signal_name(int sig) {
    switch (sig) {
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(sig);
    }
}

} // namespace ctml::compute::detail
