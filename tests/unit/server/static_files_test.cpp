// The web pages held in memory (server/api/static_files.hpp): keys, types,
// and every way a request path could try to leave the web root.
#include "server/api/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace pm {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

TEST(StaticFiles, ContentTypesByExtension) {
  EXPECT_EQ(content_type_for("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("/app.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("/icons/unit.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("/logo.PNG"), "image/png");
  EXPECT_EQ(content_type_for("/config.json"), "application/json");
  EXPECT_EQ(content_type_for("/app.js.map"), "application/json");
  EXPECT_EQ(content_type_for("/fonts/a.woff2"), "font/woff2");
  EXPECT_EQ(content_type_for("/README"), "application/octet-stream");
  EXPECT_EQ(content_type_for("/dir.js/file"), "application/octet-stream");
}

TEST(StaticFiles, KeysOfSafePaths) {
  EXPECT_EQ(static_key("/"), "/index.html");
  EXPECT_EQ(static_key("/app.js"), "/app.js");
  EXPECT_EQ(static_key("/docs/"), "/docs/index.html");
  EXPECT_EQ(static_key("/a%20b.css"), "/a b.css");
  EXPECT_EQ(static_key("/img/x.png"), "/img/x.png");
}

TEST(StaticFiles, TraversalAndOddPathsRejected) {
  for (const char* p : {"", "app.js", "/..", "/../etc/passwd", "/a/../../b", "/a/./b", "/./app.js", "//etc/passwd",
                        "/a//b", "/%2e%2e/etc/passwd", "/%2E%2E/x", "/.%2e/x", "/a%2fb", "/a%2Fb", "/a%5cb",
                        "/a\\..\\b", "/a%00.js", "/.git/config", "/.env", "/a%zz", "/a%2"}) {
    EXPECT_FALSE(static_key(p).has_value()) << p;
  }
  EXPECT_FALSE(static_key(std::string_view("/a\0b", 4)).has_value());
}

TEST(StaticFiles, LoadsADirectoryAndServesOnlyWhatIsInIt) {
  TempDir tmp;
  const fs::path base(tmp.path());
  fs::path root = base / "dist";
  write_file(root / "index.html", "<!doctype html><title>x</title>");
  write_file(root / "app.js", "console.log(1)");
  write_file(root / "ol" / "ol.css", ".ol{}");
  write_file(root / ".hidden" / "secret.txt", "no");
  write_file(root / ".env", "no");
  write_file(base / "outside.txt", "secret");
  fs::create_symlink(base / "outside.txt", root / "leak.txt");

  std::string err;
  StaticFiles files = StaticFiles::load(root, err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(files.size(), 3u);
  const StaticFile* idx = files.find("/");
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(idx->body, "<!doctype html><title>x</title>");
  EXPECT_EQ(idx->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(idx->etag.size(), 18u);
  ASSERT_NE(files.find("/ol/ol.css"), nullptr);
  EXPECT_EQ(files.find("/ol/ol.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(files.find("/app.js")->body, "console.log(1)");
  EXPECT_EQ(files.find("/leak.txt"), nullptr);  // symlink out of the root
  EXPECT_EQ(files.find("/.env"), nullptr);
  EXPECT_EQ(files.find("/.hidden/secret.txt"), nullptr);
  EXPECT_EQ(files.find("/../outside.txt"), nullptr);
  EXPECT_EQ(files.find("/ol/../app.js"), nullptr);
  EXPECT_EQ(files.find("/missing.js"), nullptr);
}

TEST(StaticFiles, MissingRootIsAnError) {
  TempDir tmp;
  std::string err;
  StaticFiles files = StaticFiles::load(fs::path(tmp.path()) / "nope", err);
  EXPECT_NE(err, "");
  EXPECT_EQ(files.size(), 0u);
}

TEST(StaticFiles, AddReplacesAndKeepsTheTotal) {
  StaticFiles files;
  files.add("/index.html", "12345");
  files.add("/index.html", "12");
  EXPECT_EQ(files.size(), 1u);
  EXPECT_EQ(files.total_bytes(), 2u);
  EXPECT_NE(files.find("/")->etag, "");
}

}  // namespace
}  // namespace pm
