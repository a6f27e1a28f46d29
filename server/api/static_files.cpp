#include "server/api/static_files.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

namespace pm {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// FNV-1a, 64 bit: a cheap content validator for ETag (not a security hash).
std::string etag_of(std::string_view body) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool path_within(const std::filesystem::path& p, const std::filesystem::path& root) {
  auto [r, _] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

}  // namespace

std::string_view content_type_for(std::string_view name) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr std::array<Type, 14> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".geojson", "application/geo+json"},
      {".map", "application/json"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  auto slash = name.rfind('/');
  std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  auto dot = base.rfind('.');
  if (dot != std::string_view::npos) {
    std::string ext(base.substr(dot));
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& t : kTypes)
      if (t.ext == ext) return t.type;
  }
  return "application/octet-stream";
}

std::optional<std::string> static_key(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 1024) return std::nullopt;
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      // An encoded separator or dot only serves to dodge the checks below.
      if (c == '.' || c == '/' || c == '\\' || c == '\0') return std::nullopt;
      i += 2;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    out.push_back(c);
  }
  if (out == "/") return std::string("/index.html");
  // Every segment must be a plain name: no "", ".", "..", no hidden files.
  size_t start = 1;
  while (start <= out.size()) {
    size_t end = out.find('/', start);
    if (end == std::string::npos) end = out.size();
    std::string_view seg(out.data() + start, end - start);
    if (seg.empty()) {
      if (end == out.size()) return out + "index.html";  // "/docs/" -> "/docs/index.html"
      return std::nullopt;
    }
    if (seg.front() == '.') return std::nullopt;  // ".", "..", ".git", ".env"
    start = end + 1;
  }
  return out;
}

void StaticFiles::add(std::string key, std::string body) {
  StaticFile f;
  f.content_type = std::string(content_type_for(key));
  f.etag = etag_of(body);
  f.body = std::move(body);
  auto [it, inserted] = files_.try_emplace(std::move(key));
  if (!inserted) total_bytes_ -= it->second.body.size();
  total_bytes_ += f.body.size();
  it->second = std::move(f);
}

const StaticFile* StaticFiles::find(std::string_view request_path) const {
  auto key = static_key(request_path);
  if (!key) return nullptr;
  auto it = files_.find(*key);
  return it == files_.end() ? nullptr : &it->second;
}

StaticFiles StaticFiles::load(const std::filesystem::path& root_in, std::string& error) {
  namespace fs = std::filesystem;
  StaticFiles out;
  std::error_code ec;
  fs::path root = fs::canonical(root_in, ec);
  if (ec || !fs::is_directory(root, ec)) {
    error = "web root " + root_in.string() + " is not a readable directory";
    return out;
  }
  fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, ec);
  if (ec) {
    error = "cannot list " + root.string() + ": " + ec.message();
    return out;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      error = "cannot list " + root.string() + ": " + ec.message();
      return out;
    }
    const fs::path& p = it->path();
    if (p.filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    // A symlink may point anywhere: only what resolves inside the root is served.
    fs::path real = fs::canonical(p, ec);
    if (ec || !path_within(real, root)) continue;
    if (out.size() >= kMaxFiles) {
      error = "web root has more than " + std::to_string(kMaxFiles) + " files";
      return out;
    }
    std::ifstream in(real, std::ios::binary);
    if (!in) continue;
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string body = std::move(ss).str();
    if (out.total_bytes() + body.size() > kMaxTotalBytes) {
      error = "web root is larger than " + std::to_string(kMaxTotalBytes >> 20) + " MiB";
      return out;
    }
    std::string rel = fs::relative(p, root, ec).generic_string();
    if (ec) continue;
    std::string key;
    key.reserve(rel.size() + 1);
    key.push_back('/');
    key.append(rel);
    out.add(std::move(key), std::move(body));
  }
  return out;
}

}  // namespace pm
