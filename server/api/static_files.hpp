#pragma once
// The web pages (web/dist) held in memory: read once at start, served by
// path without touching the disk again, so a request never blocks on I/O and
// no request path can reach a file outside the root.
//
//   std::string err;
//   auto files = StaticFiles::load("web/dist", err);   // empty set + err on failure
//   if (const StaticFile* f = files.find("/app.js")) serve f->body as f->content_type;
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pm {

struct StaticFile {
  std::string body;
  std::string content_type;
  std::string etag;  // quoted strong validator over the body
};

// The MIME type for a file name by its extension (html, js, css, svg, png,
// json, map, woff2, ...); application/octet-stream when unknown.
std::string_view content_type_for(std::string_view name);

// The root-relative key ("/app.js", "/" -> "/index.html") for a request path
// (no query string), or nullopt when the path is unsafe: not absolute, "..",
// "." or empty segments, NUL, backslash, or a percent-encoded '.', '/', '\'
// or NUL. Other percent-escapes are decoded.
std::optional<std::string> static_key(std::string_view path);

class StaticFiles {
 public:
  static constexpr size_t kMaxFiles = 2000;
  static constexpr size_t kMaxTotalBytes = 64u << 20;

  // Reads every regular file under `root` (recursively; hidden entries and
  // symlinks leading outside the root are skipped). On failure (no such
  // directory, over the limits) returns what it read so far and sets `error`.
  static StaticFiles load(const std::filesystem::path& root, std::string& error);

  // Adds or replaces a file under its key ("/index.html").
  void add(std::string key, std::string body);
  // The file for a request path (see static_key), or nullptr.
  const StaticFile* find(std::string_view request_path) const;
  size_t size() const { return files_.size(); }
  size_t total_bytes() const { return total_bytes_; }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
  size_t total_bytes_ = 0;
};

}  // namespace pm
