// SPDX-License-Identifier: MIT
// File datasets from paths and from URLs served by a loopback HTTP server this test starts
// (tests/workspace/http_server.py): versions with content hashes, retries and resumes, and the
// errors that must record nothing (404, truncated bodies, wrong checksums, missing paths).
#include <doctest/doctest.h>

#include "ws_test_util.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/io/file.hpp"
#include "ctml/workspace/dataset.hpp"
#include "ctml/workspace/detail/objects.hpp"
#include "ctml/workspace/workspace.hpp"

namespace fs = std::filesystem;
namespace cw = ctml::workspace;

namespace {

fs::path fresh_dir(const std::string& name) { return ws_test::fresh_dir("ctml_ds_", name); }

using ws_test::write;

std::string blob(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) {
        c = static_cast<char>(gen() & 0xFF);
    }
    return s;
}

/// The loopback server: started in the constructor, killed in the destructor.
class http_server {
public:
    explicit http_server(const fs::path& dir) {
        const char* src = std::getenv("CTML_SOURCE_DIR");
        const char* py = std::getenv("CTML_PYTHON");
        const std::string script = std::string(src ? src : ".") +
                                   "/tests/workspace/http_server.py";
        const std::string cmd = "exec " + std::string(py ? py : "python3") + " " + script + " " +
                                dir.string();
        pipe_ = ::popen(cmd.c_str(), "r");
        REQUIRE(pipe_ != nullptr);
        long port = 0, pid = 0;
        REQUIRE(std::fscanf(pipe_, "%ld %ld", &port, &pid) == 2);
        port_ = port;
        pid_ = static_cast<pid_t>(pid);
    }
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;
    ~http_server() {
        ::kill(pid_, SIGTERM);
        ::pclose(pipe_);
    }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

private:
    std::FILE* pipe_ = nullptr;
    long port_ = 0;
    pid_t pid_ = 0;
};

cw::download_options quick() {
    cw::download_options o;
    o.attempts = 3;
    o.progress = false;
    return o;
}

template <class E, class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "<no error>";
}

} // namespace

TEST_CASE("datasets from local files: versions by content hash, get_by_name, download, mount") {
    const fs::path dir = fresh_dir("local");
    cw::workspace ws = cw::create(dir / "ws", "ds");
    write(dir / "src" / "train.gz", blob(5000, 1));
    write(dir / "src" / "sub" / "labels.gz", blob(300, 2));
    write(dir / "single.bin", blob(10, 3));

    auto ds = cw::file_dataset::from_files({(dir / "src").string(), (dir / "single.bin").string()});
    const cw::dataset_version v1 = ds.register_dataset(ws, "mnist-dataset",
                                                       "training and test dataset");
    CHECK(v1.id() == "mnist-dataset:1");
    REQUIRE(v1.files.size() == 3);
    CHECK(v1.files[0].path == "single.bin");
    CHECK(v1.files[1].path == "sub/labels.gz");
    CHECK(v1.files[2].path == "train.gz");

    // The same content again: the same version, unless a new one is asked for.
    auto again = cw::file_dataset::from_files({(dir / "src").string(), (dir / "single.bin").string()});
    CHECK(again.register_dataset(ws, "mnist-dataset", "again").version == 1);
    CHECK(again.register_dataset(ws, "mnist-dataset", "forced", true).version == 2);
    write(dir / "single.bin", blob(10, 4));
    auto changed = cw::file_dataset::from_files({(dir / "src").string(), (dir / "single.bin").string()});
    const auto v3 = changed.register_dataset(ws, "mnist-dataset", "changed");
    CHECK(v3.version == 3);
    CHECK(v3.content_sha256 != v1.content_sha256);

    const auto got = cw::file_dataset::get_by_name(ws, "mnist-dataset", 1);
    got.download(dir / "dl");
    CHECK(ctml::io::read_file(dir / "dl" / "train.gz") == blob(5000, 1));
    CHECK(ctml::io::read_file(dir / "dl" / "sub" / "labels.gz") == blob(300, 2));
    const fs::path mounted = cw::file_dataset::get_by_name(ws, "mnist-dataset").mount();
    CHECK(mounted == ws.root() / "datasets" / "mnist-dataset" / "3");
    CHECK(ctml::io::read_file(mounted / "single.bin") == blob(10, 4));
    CHECK(cw::file_dataset::get_by_name(ws, "mnist-dataset").mount() == mounted); // made once

    CHECK(ws.backend().datasets().at(0).latest_version == 3);
    CHECK_THROWS_AS(cw::file_dataset::get_by_name(ws, "mnist-dataset", 9), ctml::workspace_error);
    CHECK_THROWS_AS(cw::file_dataset::get_by_name(ws, "nothing"), ctml::workspace_error);

    // Errors name the source and record nothing.
    auto missing = cw::file_dataset::from_files({(dir / "nope.gz").string()});
    CHECK(error_of<ctml::file_error>([&] { missing.register_dataset(ws, "other"); })
              .find("nope.gz") != std::string::npos);
    auto wrong = cw::file_dataset::from_files({{(dir / "single.bin").string(), std::string(64, 'a')}});
    CHECK(error_of<ctml::data_error>([&] { wrong.register_dataset(ws, "other"); })
              .find("does not match") != std::string::npos);
    auto dup = cw::file_dataset::from_files({(dir / "single.bin").string(),
                                             (dir / "single.bin").string()});
    CHECK(error_of<ctml::data_error>([&] { dup.register_dataset(ws, "other"); })
              .find("two sources") != std::string::npos);
    CHECK(ws.backend().datasets().size() == 1);
    fs::remove_all(dir);
}

TEST_CASE("datasets from URLs on a loopback server: retries, resumes, checksums, 404, truncation") {
    const fs::path dir = fresh_dir("http");
    cw::workspace ws = cw::create(dir / "ws", "http");
    const std::string a = blob(300000, 7), b = blob(123457, 8);
    write(dir / "served" / "train-images.gz", a);
    write(dir / "served" / "t10k-labels.gz", b);
    const std::string sha_a = cw::detail::sha256_hex(a);
    http_server server(dir / "served");

    auto ds = cw::file_dataset::from_files(
        {{server.url("/files/train-images.gz"), sha_a}, server.url("/flaky/t10k-labels.gz")},
        quick());
    const auto v = ds.register_dataset(ws, "mnist", "from URLs");
    REQUIRE(v.files.size() == 2);
    CHECK(v.files[0].source == server.url("/flaky/t10k-labels.gz"));
    cw::file_dataset::get_by_name(ws, "mnist").download(dir / "dl");
    CHECK(ctml::io::read_file(dir / "dl" / "train-images.gz") == a);
    CHECK(ctml::io::read_file(dir / "dl" / "t10k-labels.gz") == b); // resumed after a cut

    // A server that ignores Range: the download restarts from zero and is still whole.
    write(dir / "served" / "norange.bin", b);
    auto nr = cw::file_dataset::from_files({server.url("/norange/norange.bin")}, quick());
    nr.register_dataset(ws, "norange");
    cw::file_dataset::get_by_name(ws, "norange").download(dir / "dl2");
    CHECK(ctml::io::read_file(dir / "dl2" / "norange.bin") == b);

    // 503 once, then fine.
    write(dir / "served" / "busy.bin", a);
    auto busy = cw::file_dataset::from_files({server.url("/once503/busy.bin")}, quick());
    CHECK(busy.register_dataset(ws, "busy").files.at(0).sha256 == sha_a);

    // Failures record nothing.
    const auto before = ws.backend().datasets().size();
    auto notfound = cw::file_dataset::from_files({server.url("/files/absent.gz")}, quick());
    std::string msg = error_of<ctml::data_error>([&] { notfound.register_dataset(ws, "bad"); });
    CHECK(msg.find("absent.gz") != std::string::npos);
    CHECK(msg.find("404") != std::string::npos);

    auto truncated = cw::file_dataset::from_files({server.url("/truncated/train-images.gz")},
                                                  quick());
    msg = error_of<ctml::data_error>([&] { truncated.register_dataset(ws, "bad"); });
    CHECK(msg.find("truncated/train-images.gz") != std::string::npos);

    auto checksum = cw::file_dataset::from_files(
        {{server.url("/files/t10k-labels.gz"), sha_a}}, quick());
    msg = error_of<ctml::data_error>([&] { checksum.register_dataset(ws, "bad"); });
    CHECK(msg.find("does not match") != std::string::npos);
    CHECK(msg.find(sha_a) != std::string::npos);

    auto refused = cw::file_dataset::from_files({"http://127.0.0.1:1/x.gz"}, quick());
    CHECK_THROWS_AS(refused.register_dataset(ws, "bad"), ctml::data_error);

    CHECK(ws.backend().datasets().size() == before);
    // No temporary files are left behind by the failures.
    CHECK(fs::is_empty(ws.root() / "objects" / "tmp"));
    CHECK_THROWS_AS(cw::file_dataset::from_files({{"x", "not-a-hash"}}), ctml::data_error);
    fs::remove_all(dir);
}
