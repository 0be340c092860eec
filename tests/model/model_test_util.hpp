// SPDX-License-Identifier: MIT
// Helpers for the model-file tests: the io tests' scratch folder and CTML_THROW_MESSAGE, and
// running one hostile case in a child process to measure what it made the process allocate.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../io/io_test_util.hpp"

namespace ctml_test {

struct child_result {
    bool exited = false;
    int status = -1;       ///< the child's exit status
    long max_rss_kib = -1; ///< the child's peak resident set (getrusage ru_maxrss)
};

/// Runs `body` in a forked child and returns its exit status and peak RSS. The child starts with
/// the parent's (small) resident set; `body` returns the exit status.
inline child_result run_in_child(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        int status = 3;
        try {
            status = body();
        } catch (...) {
            status = 4;
        }
        std::_Exit(status);
    }
    child_result r;
    if (pid < 0) {
        return r;
    }
    int wstatus = 0;
    struct rusage ru {};
    if (::wait4(pid, &wstatus, 0, &ru) == pid && WIFEXITED(wstatus)) {
        r.exited = true;
        r.status = WEXITSTATUS(wstatus);
        r.max_rss_kib = ru.ru_maxrss;
    }
    return r;
}

} // namespace ctml_test
