// SPDX-License-Identifier: MIT
#include "ctml/io/file.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>

#include "io_test_util.hpp"

namespace fs = std::filesystem;
using ctml_test::scratch_dir;

namespace {
std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
        names.push_back(e.path().filename().string());
    }
    return names;
}
} // namespace

TEST_CASE("write_file_atomic / read_file: round trip of binary bytes, overwrite, no leftovers") {
    scratch_dir dir;
    const fs::path p = dir / "a.bin";
    const std::string bytes("x\0y\xff\n", 5);
    ctml::io::write_file_atomic(p, bytes);
    CHECK(ctml::io::read_file(p) == bytes);

    ctml::io::write_file_atomic(p, "second");
    CHECK(ctml::io::read_file(p) == "second");
    ctml::io::write_file_atomic(p, "");
    CHECK(ctml::io::read_file(p).empty());

    const std::string big(3 * 65536 + 17, 'q'); // more than one read chunk
    ctml::io::write_file_atomic(p, big);
    CHECK(ctml::io::read_file(p) == big);
    CHECK(listing(dir.path()) == std::vector<std::string>{"a.bin"});
}

TEST_CASE("read_file: errors name the path and the errno text") {
    scratch_dir dir;
    const fs::path missing = dir / "missing.json";
    const std::string msg = CTML_THROW_MESSAGE(ctml::file_error, ctml::io::read_file(missing));
    CHECK(msg == missing.string() + ": cannot open for reading: No such file or directory");
    try {
        ctml::io::read_file(missing);
    } catch (const ctml::file_error& e) {
        CHECK(e.os_error() == std::errc::no_such_file_or_directory);
        CHECK(e.code() == ctml::error_code::file);
    }
    CHECK(CTML_THROW_MESSAGE(ctml::error, ctml::io::read_file(dir.path())) ==
          dir.path().string() + ": cannot read: Is a directory");
}

TEST_CASE("write_file_atomic: a missing folder is an error naming the target") {
    scratch_dir dir;
    const fs::path p = dir / "no-such-folder" / "x.json";
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::write_file_atomic(p, "{}")) ==
          p.string() + ": cannot create a temporary file in its folder: No such file or directory");
    CHECK(!fs::exists(p));
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::write_file_atomic(dir.path() / "", "x"))
              .find("does not name a file") != std::string::npos);
}

TEST_CASE("write_file_atomic: a failed rename leaves the target alone and removes the temporary") {
    scratch_dir dir;
    const fs::path target = dir / "model";
    fs::create_directory(target);
    ctml::io::write_file_atomic(target / "keep.txt", "kept");
    const std::string msg =
        CTML_THROW_MESSAGE(ctml::file_error, ctml::io::write_file_atomic(target, "new"));
    CHECK(msg.rfind(target.string() + ": cannot rename the temporary file into place: ", 0) == 0);
    CHECK(fs::is_directory(target));
    CHECK(ctml::io::read_file(target / "keep.txt") == "kept");
    CHECK(listing(dir.path()) == std::vector<std::string>{"model"});
}

TEST_CASE("write_file_atomic: a write failing midway keeps the old file whole") {
    scratch_dir dir;
    const fs::path p = dir / "weights.npz";
    const std::string old_content(1000, 'o');
    ctml::io::write_file_atomic(p, old_content);

    // A file-size limit makes write() fail with EFBIG after the first 4096 bytes: a real
    // short write on a real file, not a simulated one.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto* saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
        ctml::io::write_file_atomic(p, std::string(100000, 'n'));
    } catch (const ctml::file_error& e) {
        msg = e.what();
    }
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
    std::signal(SIGXFSZ, saved_handler);

    CHECK(msg == p.string() + ": cannot write: File too large");
    CHECK(ctml::io::read_file(p) == old_content);
    CHECK(listing(dir.path()) == std::vector<std::string>{"weights.npz"});
}

TEST_CASE("write_file_atomic: concurrent writers and a reader never see a partial file") {
    scratch_dir dir;
    const fs::path p = dir / "run.json";
    const std::string a(200000, 'a'), b(300000, 'b');
    ctml::io::write_file_atomic(p, a);
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0}, reads{0};
    std::thread reader([&] {
        while (!stop) {
            const std::string s = ctml::io::read_file(p);
            if (s != a && s != b) {
                ++bad;
            }
            ++reads;
        }
    });
    std::thread wa([&] {
        for (int i = 0; i < 30; ++i) {
            ctml::io::write_file_atomic(p, a);
        }
    });
    std::thread wb([&] {
        for (int i = 0; i < 30; ++i) {
            ctml::io::write_file_atomic(p, b);
        }
    });
    wa.join();
    wb.join();
    stop = true;
    reader.join();
    CHECK(bad == 0);
    CHECK(reads > 0);
    CHECK(listing(dir.path()) == std::vector<std::string>{"run.json"});
}

TEST_CASE("read_file: only regular files, opened without waiting (FIFO) and never read (device)") {
    scratch_dir dir;
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::read_file(dir / "fifo")) ==
          (dir / "fifo").string() +
              ": cannot read: not a regular file (a device, FIFO or socket); ctml reads only "
              "regular files");
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::read_file("/dev/zero")).rfind(
              "/dev/zero: cannot read: not a regular file", 0) == 0);
}

TEST_CASE("read_file: a size bound, checked before reading") {
    scratch_dir dir;
    const fs::path p = dir / "big.bin";
    ctml::io::write_file_atomic(p, std::string(1000, 'b'));
    CHECK(ctml::io::read_file(p, 1000).size() == 1000);
    try {
        (void)ctml::io::read_file(p, 999);
        FAIL("expected ctml::file_error");
    } catch (const ctml::file_error& e) {
        CHECK(std::string(e.what()) ==
              p.string() + ": cannot read: the file holds 1000 bytes, more than the limit of 999 "
                           "bytes (CTML_MAX_FILE_BYTES, or the reader's own bound)");
        CHECK((e.os_error() == std::errc::file_too_large));
    }
    // A sparse 8 GiB file is refused by its size, not read.
    const fs::path huge = dir / "huge.bin";
    ctml::io::write_file_atomic(huge, "x");
    fs::resize_file(huge, std::uintmax_t{8} << 30);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::read_file(huge)).find(
              "more than the limit of 4294967296 bytes") != std::string::npos);
}

TEST_CASE("resolve_inside: relative names inside the folder only, links resolved") {
    scratch_dir dir;
    fs::create_directories(dir / "m" / "sub");
    ctml::io::write_file_atomic(dir / "m" / "w.npz", "w");
    ctml::io::write_file_atomic(dir / "m" / "sub" / "x", "x");
    ctml::io::write_file_atomic(dir / "outside", "o");
    const fs::path m = dir / "m";
    CHECK(ctml::io::resolve_inside(m, "w.npz", "f") == fs::canonical(m / "w.npz"));
    CHECK(ctml::io::resolve_inside(m, "sub/x", "f") == fs::canonical(m / "sub" / "x"));
    CHECK(ctml::io::resolve_inside(m, "./w.npz", "f") == fs::canonical(m / "w.npz"));
    fs::create_symlink("w.npz", m / "alias"); // a link that stays inside is fine
    CHECK(ctml::io::resolve_inside(m, "alias", "f") == fs::canonical(m / "w.npz"));
    fs::create_symlink(dir / "outside", m / "out");
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::resolve_inside(m, "out", "f")) ==
          "f: \"out\" resolves to " + fs::canonical(dir / "outside").string() +
              ", outside the folder " + fs::canonical(m).string() +
              " (a symbolic link may not leave it)");
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::resolve_inside(m, "../outside", "f"))
              .find("must not leave the folder") != std::string::npos);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::resolve_inside(m, "/etc/hostname", "f"))
              .find("must be a file name relative to the folder") != std::string::npos);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::resolve_inside(m, "missing", "f"))
              .find("No such file or directory") != std::string::npos);
    // A sibling folder whose name extends the folder's is not inside it.
    fs::create_directories(dir / "mx");
    ctml::io::write_file_atomic(dir / "mx" / "y", "y");
    fs::create_symlink(dir / "mx" / "y", m / "y");
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::io::resolve_inside(m, "y", "f"))
              .find("outside the folder") != std::string::npos);
}
