// SPDX-License-Identifier: MIT
// A client of MLflow's tracking REST API (/api/2.0/mlflow/...) and of its proxied artifact
// endpoints (/api/2.0/mlflow-artifacts/artifacts/...), over libcurl. Authentication as MLflow's
// own clients do it: MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME and
// MLFLOW_TRACKING_PASSWORD (basic) from the environment; MLFLOW_TRACKING_INSECURE_TLS=true and
// MLFLOW_TRACKING_SERVER_CERT_PATH as theirs. Credentials live only in this object and in
// libcurl's handle: they are never put in a message, a log line or a URL, and every error text
// is scrubbed of them before it is thrown.
//
// Every failure is a ctml::workspace::mlflow::server_error (a ctml::workspace_error) that names
// the server, the call and what to do; transient() tells the unreachable / 5xx / 429 ones
// (retry later: nothing is lost, the run's local journal keeps every point) from the refusals a
// person must act on (401, 403, 404, a limit).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <simdjson.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/workspace/detail/http.hpp"

namespace ctml::workspace::mlflow {

/// @brief A refused or failed call to the server. status 0: no HTTP answer (unreachable).
class server_error : public workspace_error {
public:
    server_error(const std::string& what, long status, std::string mlflow_code, bool transient)
        : workspace_error(what), status_(status), code_(std::move(mlflow_code)),
          transient_(transient) {}
    long status() const noexcept { return status_; }
    /// MLflow's error_code ("RESOURCE_DOES_NOT_EXIST", ...); empty when the body had none.
    const std::string& mlflow_code() const noexcept { return code_; }
    /// True when retrying later may succeed (no answer, 5xx, 429, 408).
    bool transient() const noexcept { return transient_; }

private:
    long status_;
    std::string code_;
    bool transient_;
};

/// @brief Credentials, read from the environment as MLflow's clients read them.
struct credentials {
    std::string username{};
    std::string password{};
    std::string token{};
    bool insecure_tls = false;
    std::string cert_path{};

    static credentials from_environment() {
        const auto env = [](const char* name) {
            const char* v = std::getenv(name);
            return std::string(v != nullptr ? v : "");
        };
        credentials c;
        c.username = env("MLFLOW_TRACKING_USERNAME");
        c.password = env("MLFLOW_TRACKING_PASSWORD");
        c.token = env("MLFLOW_TRACKING_TOKEN");
        const std::string insecure = env("MLFLOW_TRACKING_INSECURE_TLS");
        c.insecure_tls = insecure == "true" || insecure == "1" || insecure == "True";
        c.cert_path = env("MLFLOW_TRACKING_SERVER_CERT_PATH");
        return c;
    }
    /// Which kind is used, for messages (never the values).
    std::string kind() const {
        if (!token.empty()) {
            return "the bearer token in MLFLOW_TRACKING_TOKEN";
        }
        if (!username.empty() || !password.empty()) {
            return "user \"" + username + "\" (MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)";
        }
        return "no credentials";
    }
};

/// @brief A tracking URI checked and split: "http(s)://host[:port][/prefix]". User names or
/// passwords inside the URI are refused: they would end up in config.json and in messages.
inline std::string normalize_tracking_uri(std::string_view uri, std::string_view where) {
    std::string u(uri);
    while (!u.empty() && u.back() == '/') {
        u.pop_back();
    }
    const bool http = u.rfind("http://", 0) == 0, https = u.rfind("https://", 0) == 0;
    const std::size_t host_at = http ? 7 : 8;
    if ((!http && !https) || u.size() <= host_at) {
        throw config_error(std::string(where) + ": tracking URI \"" + u +
                           "\": expected http://HOST[:PORT] or https://HOST[:PORT] "
                           "(an MLflow tracking server)");
    }
    const std::string authority = u.substr(host_at, u.find('/', host_at) - host_at);
    if (authority.find('@') != std::string::npos) {
        throw config_error(std::string(where) + ": the tracking URI holds credentials; remove "
                           "them and set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
                           "(or MLFLOW_TRACKING_TOKEN) in the environment instead");
    }
    for (const char c : u) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
            throw config_error(std::string(where) + ": tracking URI \"" + u +
                               "\" contains a space or a control character");
        }
    }
    return u;
}

namespace detail {

struct read_source {
    std::FILE* file = nullptr;
    const std::string* body = nullptr;
    std::size_t offset = 0;
};

inline std::size_t read_cb(char* out, std::size_t size, std::size_t n, void* user) {
    auto* s = static_cast<read_source*>(user);
    if (s->file != nullptr) {
        return std::fread(out, 1, size * n, s->file);
    }
    const std::size_t left = s->body->size() - s->offset;
    const std::size_t k = left < size * n ? left : size * n;
    s->body->copy(out, k, s->offset);
    s->offset += k;
    return k;
}

struct write_sink {
    std::string* body = nullptr;
    int fd = -1;
    bool to_file_only_on_success = true;
    long status = 0;
    CURL* curl = nullptr;
    std::string error_body{}; // a failed download's body goes here, not into the file
    bool failed = false;
};

inline std::size_t write_cb(char* data, std::size_t size, std::size_t n, void* user) {
    auto* s = static_cast<write_sink*>(user);
    const std::size_t bytes = size * n;
    if (s->fd < 0) {
        s->body->append(data, bytes);
        return bytes;
    }
    if (s->status == 0) {
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    }
    if (s->status >= 300) {
        if (s->error_body.size() < 65536) {
            s->error_body.append(data, bytes);
        }
        return bytes;
    }
    try {
        io::detail::write_all(s->fd, std::string_view(data, bytes), "download");
    } catch (const file_error&) {
        s->failed = true;
        return 0;
    }
    return bytes;
}

/// A file written through a temporary sibling, renamed into place by commit() (after fsync);
/// removed when destroyed uncommitted.
class atomic_out {
public:
    explicit atomic_out(std::filesystem::path path) : path_(std::move(path)) {
        for (unsigned attempt = 0; fd_ < 0; ++attempt) {
            tmp_ = io::detail::temp_sibling(path_, attempt);
            fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ < 0 && (errno != EEXIST || attempt >= 100)) {
                io::detail::throw_file_error(path_, "create a temporary file in its folder", errno);
            }
        }
    }
    atomic_out(const atomic_out&) = delete;
    atomic_out& operator=(const atomic_out&) = delete;
    ~atomic_out() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        if (!committed_) {
            ::unlink(tmp_.c_str());
        }
    }
    int fd() const noexcept { return fd_; }
    const std::filesystem::path& path() const noexcept { return path_; }
    void commit() {
        if (::fsync(fd_) != 0 || ::close(std::exchange(fd_, -1)) != 0) {
            io::detail::throw_file_error(path_, "write", errno);
        }
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
            io::detail::throw_file_error(path_, "rename the temporary file into place", errno);
        }
        committed_ = true;
        io::detail::fsync_parent(path_);
    }

private:
    std::filesystem::path path_, tmp_;
    int fd_ = -1;
    bool committed_ = false;
};

inline void replace_all(std::string& s, std::string_view what, std::string_view with) {
    if (what.empty()) {
        return;
    }
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + with.size())) {
        s.replace(p, what.size(), with);
    }
}

} // namespace detail

/// @brief A parsed JSON answer; elements stay valid while it lives.
class json_answer {
public:
    explicit json_answer(const std::string& text) : text_(text) {
        if (text_.size() == 0) {
            root_ = {};
            empty_ = true;
            return;
        }
        if (parser_.parse(text_).get(root_)) {
            empty_ = true;
        }
    }
    bool empty() const noexcept { return empty_; }
    /// Member `path` ("run.info.run_id") as a string; "" when absent.
    std::string string_at(std::string_view path) const {
        simdjson::dom::element e;
        if (empty_ || root_.at_pointer(pointer(path)).get(e) || !e.is_string()) {
            return {};
        }
        return std::string(e.get_string().value_unsafe());
    }
    /// Member `path` as an array; false when absent or not an array.
    bool array_at(std::string_view path, simdjson::dom::array& out) const {
        simdjson::dom::element e;
        return !empty_ && !root_.at_pointer(pointer(path)).get(e) && !e.get_array().get(out);
    }
    bool has(std::string_view path) const {
        simdjson::dom::element e;
        return !empty_ && !root_.at_pointer(pointer(path)).get(e);
    }

private:
    static std::string pointer(std::string_view path) {
        std::string p = "/";
        for (char c : path) {
            p += c == '.' ? '/' : c;
        }
        return p;
    }
    simdjson::padded_string text_;
    simdjson::dom::parser parser_;
    simdjson::dom::element root_{};
    bool empty_ = false;
};

/// @brief Counts of what the client sent (the "second sync sends nothing" check uses them).
struct request_counts {
    std::int64_t reads = 0;      ///< GET requests
    std::int64_t writes = 0;     ///< POST, PUT, PATCH, DELETE requests
    std::int64_t bytes_up = 0;   ///< artifact bytes uploaded
};

/// @brief One MLflow tracking server. Not thread-safe (one libcurl handle); one per thread.
class client {
public:
    client(std::string_view tracking_uri, credentials creds = credentials::from_environment())
        : base_(normalize_tracking_uri(tracking_uri, "tracking URI")), creds_(std::move(creds)) {
        ::ctml::workspace::detail::curl_global();
        curl_ = curl_easy_init();
        if (curl_ == nullptr) {
            throw workspace_error("libcurl: cannot create a handle");
        }
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() { curl_easy_cleanup(curl_); }

    /// The server as shown in messages ("http://127.0.0.1:5000"): never with credentials.
    const std::string& uri() const noexcept { return base_; }
    const request_counts& counts() const noexcept { return counts_; }
    /// Per-call timeout for JSON calls (artifact transfers only have a low-speed limit).
    void set_timeout_s(long s) { timeout_s_ = s; }

    /// GET `api` ("/api/2.0/mlflow/runs/get") with `query` pairs (URL-encoded here).
    std::string get(std::string_view api,
                    const std::vector<std::pair<std::string, std::string>>& query = {}) {
        std::string url = base_ + std::string(api);
        char sep = '?';
        for (const auto& [k, v] : query) {
            url += sep;
            sep = '&';
            url += escape(k) + "=" + escape(v);
        }
        return perform("GET", api, url, nullptr, nullptr, nullptr);
    }

    /// POST (or PATCH / DELETE) a JSON body; returns the answer's body.
    std::string send_json(std::string_view method, std::string_view api, const std::string& body) {
        return perform(method, api, base_ + std::string(api), &body, nullptr, nullptr);
    }

    /// PUT the file `file` to the proxied artifact path `path` ("1/abc/artifacts/outputs/x"),
    /// streamed from the file.
    void upload_artifact(std::string_view path, const std::filesystem::path& file) {
        const std::string api = "/api/2.0/mlflow-artifacts/artifacts/" + escape_path(path);
        std::FILE* f = std::fopen(file.c_str(), "rb");
        if (f == nullptr) {
            io::detail::throw_file_error(file, "open for upload", errno);
        }
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(f, &std::fclose);
        perform("PUT", api, base_ + api, nullptr, f, nullptr);
        std::error_code ec;
        counts_.bytes_up += static_cast<std::int64_t>(std::filesystem::file_size(file, ec));
    }

    /// GET the proxied artifact `path` into `to` (streamed into a temporary file, renamed into
    /// place once complete).
    void download_artifact(std::string_view path, const std::filesystem::path& to) {
        const std::string api = "/api/2.0/mlflow-artifacts/artifacts/" + escape_path(path);
        std::error_code ec;
        std::filesystem::create_directories(to.parent_path(), ec);
        detail::atomic_out out(to);
        perform("GET", api, base_ + api, nullptr, nullptr, &out);
        out.commit();
    }

private:
    std::string escape(std::string_view s) const {
        char* e = curl_easy_escape(curl_, s.data(), static_cast<int>(s.size()));
        std::string out(e != nullptr ? e : "");
        curl_free(e);
        return out;
    }
    std::string escape_path(std::string_view path) const {
        std::string out;
        std::size_t start = 0;
        while (start <= path.size()) {
            const std::size_t slash = path.find('/', start);
            const std::string_view part =
                path.substr(start, slash == std::string_view::npos ? std::string_view::npos
                                                                   : slash - start);
            if (!out.empty() || start > 0) {
                out += '/';
            }
            out += escape(part);
            if (slash == std::string_view::npos) {
                break;
            }
            start = slash + 1;
        }
        return out;
    }

    std::string scrub(std::string s) const {
        detail::replace_all(s, creds_.password, "***");
        detail::replace_all(s, creds_.token, "***");
        return s;
    }

    [[noreturn]] void fail_transport(std::string_view method, std::string_view api, CURLcode rc,
                                     const char* errbuf) const {
        const std::string why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
        const bool down = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                          rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
                          rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
                          rc == CURLE_PARTIAL_FILE || rc == CURLE_SSL_CONNECT_ERROR;
        throw server_error(
            scrub("MLflow server " + base_ + " unreachable (" + why + ") for " +
                  std::string(method) + " " + std::string(api) +
                  ": start the server or fix tracking_uri (config.json) / --to; nothing is "
                  "lost: the run's points stay in its local journal and `ctml sync` sends them "
                  "once the server answers"),
            0, "", down);
    }

    [[noreturn]] void fail_http(std::string_view method, std::string_view api, long status,
                                const std::string& body) const {
        json_answer a(body);
        std::string code = a.string_at("error_code");
        std::string msg = a.string_at("message");
        if (msg.empty()) {
            msg = body.substr(0, 300);
            for (char& c : msg) {
                if (c == '\n' || c == '\r') {
                    c = ' ';
                }
            }
        }
        std::string what = "MLflow server " + base_ + ": " + std::string(method) + " " +
                           std::string(api) + ": HTTP " + std::to_string(status);
        if (!code.empty()) {
            what += " " + code;
        }
        if (!msg.empty()) {
            what += " (\"" + msg + "\")";
        }
        std::string todo;
        if (status == 401) {
            todo = "the server refused the credentials (" + creds_.kind() +
                   "): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or "
                   "MLFLOW_TRACKING_TOKEN, to an account of this server";
        } else if (status == 403) {
            todo = msg.find("Host") != std::string::npos || msg.find("host") != std::string::npos
                       ? "the server refused the Host header of tracking_uri: use the host name "
                         "the server allows (localhost or 127.0.0.1 by default) or start it "
                         "with --allowed-hosts naming this host"
                       : "the account (" + creds_.kind() +
                             ") lacks permission for this call: ask the server's admin for "
                             "EDIT permission on the experiment or model, or use another account";
        } else if (status == 404 || code == "RESOURCE_DOES_NOT_EXIST") {
            todo = "the server has no such object (deleted there, or tracking_uri names another "
                   "server than the one this workspace was synced to); check tracking_uri / --to";
        } else if (code == "INVALID_PARAMETER_VALUE" || status == 400 || status == 413) {
            todo = "the server refused a value or hit one of its limits (MLflow: keys up to 250 "
                   "characters, param values up to 6000, tag values up to 8000, 1000 metrics / "
                   "100 params / 100 tags per request); shorten the value named above";
        } else if (status >= 500 || status == 429 || status == 408) {
            todo = "a server-side failure: retry later (the run's points stay in its local "
                   "journal; `ctml sync` sends them)";
        } else {
            todo = "check the server and tracking_uri";
        }
        throw server_error(scrub(what + ": " + todo), status, code,
                           status >= 500 || status == 429 || status == 408);
    }

    std::string perform(std::string_view method, std::string_view api, const std::string& url,
                        const std::string* json_body, std::FILE* upload,
                        detail::atomic_out* download) {
        CURL* c = curl_;
        curl_easy_reset(c);
        char errbuf[CURL_ERROR_SIZE] = {0};
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "ctml-mlflow/1");
        if (!creds_.token.empty()) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
            curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, creds_.token.c_str());
        } else if (!creds_.username.empty() || !creds_.password.empty()) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERNAME, creds_.username.c_str());
            curl_easy_setopt(c, CURLOPT_PASSWORD, creds_.password.c_str());
        }
        if (creds_.insecure_tls) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (!creds_.cert_path.empty()) {
            curl_easy_setopt(c, CURLOPT_CAINFO, creds_.cert_path.c_str());
        }
        struct curl_slist* headers = nullptr;
        std::unique_ptr<curl_slist, void (*)(curl_slist*)> hguard(nullptr, &curl_slist_free_all);
        detail::read_source src;
        std::string body;
        detail::write_sink sink;
        sink.body = &body;
        sink.curl = c;
        if (json_body != nullptr) {
            headers = curl_slist_append(headers, "Content-Type: application/json");
            src.body = json_body;
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body->data());
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(json_body->size()));
            curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s_);
            ++counts_.writes;
        } else if (upload != nullptr) {
            headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
            src.file = upload;
            std::fseek(upload, 0, SEEK_END);
            const long size = std::ftell(upload);
            std::fseek(upload, 0, SEEK_SET);
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, &detail::read_cb);
            curl_easy_setopt(c, CURLOPT_READDATA, &src);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
            ++counts_.writes;
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
            if (download != nullptr) {
                sink.fd = download->fd();
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
            } else {
                curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s_);
            }
            ++counts_.reads;
        }
        headers = curl_slist_append(headers, "Accept: application/json");
        hguard.reset(headers);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &detail::write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
        const CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_WRITE_ERROR && sink.failed) {
            throw file_error(download->path().string() + ": cannot write the downloaded artifact");
        }
        if (rc != CURLE_OK) {
            fail_transport(method, api, rc, errbuf);
        }
        if (status >= 300) {
            fail_http(method, api, status, download != nullptr ? sink.error_body : body);
        }
        return body;
    }

    std::string base_;
    credentials creds_;
    CURL* curl_ = nullptr;
    long timeout_s_ = 60;
    request_counts counts_{};
};

} // namespace ctml::workspace::mlflow
